// Arena planning for activations: buffers whose lifetimes (in plan steps) do not overlap share
// address ranges of one arena. Pure bookkeeping; allocates nothing.
#pragma once

#include <cstdint>
#include <vector>

namespace hqp::runtime {

inline constexpr int64_t kArenaAlignment = 64;

struct BufferRequest {
  int64_t bytes = 0;
  int first_step = 0;  // step that writes it first
  int last_step = 0;   // last step that reads it (inclusive)
};

struct ArenaPlan {
  std::vector<int64_t> offsets;  // one per request, multiples of kArenaAlignment
  int64_t arena_bytes = 0;       // peak: the arena size
  int64_t naive_bytes = 0;       // sum of all buffers (what no sharing would need)
};

// Greedy best-fit by decreasing size (as TFLite's arena planner): each buffer takes the lowest
// offset where it overlaps no already-placed buffer that is alive at the same time.
ArenaPlan plan_arena(const std::vector<BufferRequest>& requests);

}  // namespace hqp::runtime
