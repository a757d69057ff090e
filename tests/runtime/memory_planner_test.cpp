// runtime::plan_arena: no two buffers alive at the same step overlap, every offset is aligned,
// the arena is no larger than no sharing and no smaller than the live set; hand-made cases and
// random request sets from a fixed seed.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/memory_planner.h"

namespace hqp::test {
namespace {

using runtime::ArenaPlan;
using runtime::BufferRequest;
using runtime::kArenaAlignment;
using runtime::plan_arena;

constexpr uint32_t kSeed = 20240917;
constexpr int kRandomTrials = 300;

int64_t aligned(int64_t bytes) {
  return (std::max<int64_t>(bytes, 1) + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

bool lifetimes_overlap(const BufferRequest& a, const BufferRequest& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}

// Largest sum of (aligned) bytes alive at one step: no valid arena is smaller.
int64_t live_set_bytes(const std::vector<BufferRequest>& rs) {
  int last = 0;
  for (const BufferRequest& r : rs) last = std::max(last, r.last_step);
  int64_t best = 0;
  for (int s = 0; s <= last; ++s) {
    int64_t sum = 0;
    for (const BufferRequest& r : rs) {
      if (r.first_step <= s && s <= r.last_step) sum += aligned(r.bytes);
    }
    best = std::max(best, sum);
  }
  return best;
}

// All invariants of a plan for `rs`; `what` names the case in failures.
void expect_valid(const std::vector<BufferRequest>& rs, const ArenaPlan& p, const std::string& what) {
  ASSERT_EQ(p.offsets.size(), rs.size()) << what;
  int64_t naive = 0;
  for (size_t i = 0; i < rs.size(); ++i) {
    naive += aligned(rs[i].bytes);
    EXPECT_GE(p.offsets[i], 0) << what << ": buffer " << i;
    EXPECT_EQ(p.offsets[i] % kArenaAlignment, 0) << what << ": buffer " << i << " offset " << p.offsets[i];
    EXPECT_LE(p.offsets[i] + rs[i].bytes, p.arena_bytes) << what << ": buffer " << i << " ends past the arena";
  }
  EXPECT_EQ(p.naive_bytes, naive) << what;
  EXPECT_LE(p.arena_bytes, p.naive_bytes) << what;
  EXPECT_GE(p.arena_bytes, live_set_bytes(rs)) << what;
  EXPECT_EQ(p.arena_bytes % kArenaAlignment, 0) << what;
  for (size_t i = 0; i < rs.size(); ++i) {
    for (size_t j = i + 1; j < rs.size(); ++j) {
      if (!lifetimes_overlap(rs[i], rs[j])) continue;
      const int64_t a0 = p.offsets[i], a1 = a0 + std::max<int64_t>(rs[i].bytes, 1);
      const int64_t b0 = p.offsets[j], b1 = b0 + std::max<int64_t>(rs[j].bytes, 1);
      EXPECT_TRUE(a1 <= b0 || b1 <= a0) << what << ": buffers " << i << " [" << a0 << ", " << a1 << ") steps "
                                        << rs[i].first_step << ".." << rs[i].last_step << " and " << j << " ["
                                        << b0 << ", " << b1 << ") steps " << rs[j].first_step << ".."
                                        << rs[j].last_step << " overlap";
    }
  }
}

TEST(MemoryPlanner, EmptyRequestSet) {
  const ArenaPlan p = plan_arena({});
  EXPECT_TRUE(p.offsets.empty());
  EXPECT_EQ(p.arena_bytes, 0);
  EXPECT_EQ(p.naive_bytes, 0);
}

TEST(MemoryPlanner, SingleBufferIsRoundedUpToAlignment) {
  const std::vector<BufferRequest> rs = {{100, 0, 0}};
  const ArenaPlan p = plan_arena(rs);
  ASSERT_NO_FATAL_FAILURE(expect_valid(rs, p, "single"));
  EXPECT_EQ(p.offsets[0], 0);
  EXPECT_EQ(p.arena_bytes, aligned(100));
}

TEST(MemoryPlanner, ZeroByteBuffersStillGetDistinctAlignedSlots) {
  const std::vector<BufferRequest> rs = {{0, 0, 2}, {0, 1, 3}, {1, 2, 2}};
  const ArenaPlan p = plan_arena(rs);
  ASSERT_NO_FATAL_FAILURE(expect_valid(rs, p, "zero-byte"));
  EXPECT_EQ(p.arena_bytes, 3 * kArenaAlignment);
}

TEST(MemoryPlanner, DisjointLifetimesShareOneSlot) {
  std::vector<BufferRequest> rs;
  for (int s = 0; s < 8; ++s) rs.push_back({1000 + 64 * s, s, s});
  const ArenaPlan p = plan_arena(rs);
  ASSERT_NO_FATAL_FAILURE(expect_valid(rs, p, "disjoint"));
  for (int64_t off : p.offsets) EXPECT_EQ(off, 0);
  EXPECT_EQ(p.arena_bytes, aligned(1000 + 64 * 7));
}

TEST(MemoryPlanner, ChainNeedsTwoLargestNeighbours) {
  // A linear network: buffer i is written by step i and read by step i+1.
  const std::vector<int64_t> sizes = {4096, 8192, 1024, 16384, 2048};
  std::vector<BufferRequest> rs;
  for (size_t i = 0; i < sizes.size(); ++i) rs.push_back({sizes[i], static_cast<int>(i), static_cast<int>(i) + 1});
  const ArenaPlan p = plan_arena(rs);
  ASSERT_NO_FATAL_FAILURE(expect_valid(rs, p, "chain"));
  EXPECT_EQ(p.arena_bytes, live_set_bytes(rs));  // 1024 + 16384 or 16384 + 2048 = 18432
  EXPECT_EQ(p.arena_bytes, 18432);
}

TEST(MemoryPlanner, AllAliveAtOnceNeedsTheSum) {
  const std::vector<BufferRequest> rs = {{65, 0, 5}, {1, 1, 5}, {640, 2, 5}, {63, 0, 5}};
  const ArenaPlan p = plan_arena(rs);
  ASSERT_NO_FATAL_FAILURE(expect_valid(rs, p, "all alive"));
  EXPECT_EQ(p.arena_bytes, p.naive_bytes);
}

TEST(MemoryPlanner, ResidualBlockReusesFreedMemory) {
  // x -> conv1 -> a -> conv2 -> b; y = b + x; x lives across the block (a skip connection).
  const std::vector<BufferRequest> rs = {
      {1 << 20, 0, 3},  // x: input of the block, read again by the add at step 3
      {1 << 20, 1, 2},  // a
      {1 << 20, 2, 3},  // b
      {1 << 20, 3, 4},  // y (reuses a's memory)
  };
  const ArenaPlan p = plan_arena(rs);
  ASSERT_NO_FATAL_FAILURE(expect_valid(rs, p, "residual"));
  EXPECT_EQ(p.arena_bytes, 3 << 20);
  EXPECT_LT(p.arena_bytes, p.naive_bytes);
}

TEST(MemoryPlanner, RandomRequestSets) {
  std::mt19937 rng(kSeed);
  int64_t total_saved = 0;
  for (int trial = 0; trial < kRandomTrials; ++trial) {
    const int steps = 1 + static_cast<int>(rng() % 40);
    const int count = static_cast<int>(rng() % 60);
    std::vector<BufferRequest> rs;
    for (int i = 0; i < count; ++i) {
      BufferRequest r;
      // Sizes from 0 to 32 MiB, many of them not multiples of the alignment.
      const int kind = static_cast<int>(rng() % 4);
      r.bytes = kind == 0 ? static_cast<int64_t>(rng() % 130) : static_cast<int64_t>(rng() % (1 << (10 + 5 * kind)));
      r.first_step = static_cast<int>(rng() % static_cast<uint32_t>(steps));
      r.last_step = r.first_step + static_cast<int>(rng() % static_cast<uint32_t>(steps - r.first_step));
      rs.push_back(r);
    }
    const ArenaPlan p = plan_arena(rs);
    ASSERT_NO_FATAL_FAILURE(expect_valid(rs, p, "trial " + std::to_string(trial)));
    total_saved += p.naive_bytes - p.arena_bytes;
  }
  EXPECT_GT(total_saved, 0) << "sharing never saved anything over " << kRandomTrials << " trials";
}

// The plan depends only on the requests (no hidden state, stable for equal sizes).
TEST(MemoryPlanner, Deterministic) {
  std::mt19937 rng(kSeed + 1);
  std::vector<BufferRequest> rs;
  for (int i = 0; i < 50; ++i) {
    const int first = static_cast<int>(rng() % 20);
    rs.push_back({static_cast<int64_t>(64 * (1 + rng() % 8)), first, first + static_cast<int>(rng() % 5)});
  }
  const ArenaPlan a = plan_arena(rs);
  const ArenaPlan b = plan_arena(rs);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.arena_bytes, b.arena_bytes);
}

}  // namespace
}  // namespace hqp::test
