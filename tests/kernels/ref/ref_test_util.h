// Helpers of the reference-kernel tests: seeded random data and tolerance comparisons with a
// readable first-mismatch message. Test-only; not linked into any library.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace hqp::test {

inline constexpr uint32_t kRefTestSeed = 20240611;

inline std::vector<float> random_floats(size_t count, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

template <typename T>
std::vector<T> random_ints(size_t count, uint32_t seed, int64_t lo, int64_t hi) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  std::vector<T> v(count);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

inline int64_t product(std::span<const int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims) p *= d;
  return p;
}

// Fails the current test at the first element with |got - want| > tol * max(1, |want|) (NaN in
// both counts as equal).
inline void expect_all_near(std::span<const float> got, std::span<const double> want, double tol,
                            const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i]) && std::isnan(got[i])) continue;
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double bound = tol * std::fmax(1.0, std::fabs(want[i]));
    if (!(err <= bound)) {
      ADD_FAILURE() << what << ": element " << i << " got " << got[i] << " want " << want[i] << " (err " << err
                    << ", bound " << bound << ")";
      return;
    }
  }
}

inline void expect_all_near(std::span<const float> got, std::span<const float> want, double tol,
                            const std::string& what) {
  std::vector<double> w(want.begin(), want.end());
  expect_all_near(got, std::span<const double>(w), tol, what);
}

}  // namespace hqp::test
