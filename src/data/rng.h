// Deterministic, platform-independent random numbers for data loading (shuffling, splits,
// augmentation). Not for anything else: splitmix64 is fast and well mixed, not cryptographic.
// std::shuffle and std::uniform_*_distribution are implementation-defined, so they are not used.
#pragma once

#include <cstdint>

namespace hqp::data {

// One splitmix64 step: advances `state` and returns a well-mixed 64-bit value.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Combines two values into one seed (order matters).
inline uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t s = a;
  uint64_t h = splitmix64(s);
  s = h ^ b;
  return splitmix64(s);
}

// Random stream purposes, so that shuffling, splitting and augmentation never share a stream.
enum class RngStream : uint64_t { kShuffle = 1, kSplit = 2, kAugment = 3 };

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  // The stream for (seed, purpose, a, b): e.g. (seed, kAugment, epoch, sample index).
  static Rng for_stream(uint64_t seed, RngStream stream, int64_t a, int64_t b = 0) {
    uint64_t s = mix_seed(seed, static_cast<uint64_t>(stream));
    s = mix_seed(s, static_cast<uint64_t>(a));
    s = mix_seed(s, static_cast<uint64_t>(b));
    return Rng(s);
  }

  uint64_t next_u64() { return splitmix64(state_); }
  // Uniform integer in [0, n), n >= 1, without modulo bias (rejection sampling).
  int64_t uniform_int(int64_t n) {
    const uint64_t un = static_cast<uint64_t>(n);
    const uint64_t limit = UINT64_MAX - UINT64_MAX % un;
    uint64_t x = next_u64();
    while (x >= limit) x = next_u64();
    return static_cast<int64_t>(x % un);
  }
  // Uniform double in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace hqp::data
