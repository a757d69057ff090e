// What this process holds in memory, and handing freed heap memory back to the OS. Linux/glibc;
// used by runtimes after they drop large buffers and by benchmarks that report resident memory.
#pragma once

#include <cstdint>

namespace hqp {

// Resident pages of this process (/proc/self/status), in bytes; -1 where unavailable.
struct ResidentMemory {
  int64_t anonymous = -1;  // RssAnon: private memory (heap, weights, activations, JIT code, stacks)
  int64_t file = -1;       // RssFile: pages of mapped files (shared-library code and data)
  int64_t total() const { return anonymous < 0 || file < 0 ? -1 : anonymous + file; }
};
ResidentMemory resident_memory();

// Returns free heap memory to the OS (glibc malloc_trim): after a large buffer is freed (weights
// copied into packed form) the allocator may otherwise keep its pages resident.
void release_free_memory();

}  // namespace hqp
