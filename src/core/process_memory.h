// What this process holds in memory, and handing freed heap memory back to the OS. Linux/glibc;
// used by runtimes after they drop large buffers and by benchmarks that report resident memory.
#pragma once

#include <cstdint>

namespace hqp {

// Resident set size of this process in bytes (/proc/self/statm), or -1 when unavailable.
int64_t resident_bytes();

// Returns free heap memory to the OS (glibc malloc_trim): after a large buffer is freed (weights
// copied into packed form) the allocator may otherwise keep its pages resident.
void release_free_memory();

}  // namespace hqp
