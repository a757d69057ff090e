// Counts the bytes tensors allocate, for tests that check the reference executor's memory
// behaviour (intermediates freed after their last use, observers that do not cause copies).
// hqp::Tensor storage comes from the aligned array operator new; tensor_alloc_counter.cpp replaces
// that operator (and its delete) for the whole hqp_runtime_tests executable. Single-threaded use.
#pragma once

#include <cstdint>

namespace hqp::test {

struct TensorAllocStats {
  int64_t live_bytes = 0;       // allocated and not yet freed
  int64_t peak_live_bytes = 0;  // maximum of live_bytes since the last reset
  int64_t total_bytes = 0;      // sum of all allocations since the last reset
  int64_t allocations = 0;      // number of allocations since the last reset
};

TensorAllocStats tensor_alloc_stats();
// Restarts peak (at the current live bytes), total and allocation counts; live bytes are kept.
void reset_tensor_alloc_stats();

}  // namespace hqp::test
