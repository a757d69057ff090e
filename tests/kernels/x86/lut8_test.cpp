// lut8__x86 against lut8__ref: every code of both source types, every tail length, in place too.
// The path this CPU takes (AVX-512 VBMI, AVX2 or the reference loop) is printed.
#include <cstdio>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/quantize.h"
#include "kernels/x86/lut8.h"

namespace hqp::kernels {
namespace {

TEST(Lut8X86, EqualsTheReferenceForEveryCodeAndLength) {
  std::printf("[ lut8     ] path: %s\n", std::string(lut8__x86_isa()).c_str());
  std::vector<uint8_t> table(256);
  for (int i = 0; i < 256; ++i) table[static_cast<size_t>(i)] = static_cast<uint8_t>((i * 97 + 31) ^ (i >> 3));
  for (bool src_signed : {false, true}) {
    for (int64_t n : {0, 1, 5, 31, 32, 33, 63, 64, 65, 127, 128, 200, 256, 1000, 4099}) {
      std::vector<uint8_t> src(static_cast<size_t>(n)), want(static_cast<size_t>(n) + 1, 0xAB),
          got(static_cast<size_t>(n) + 1, 0xAB);
      for (int64_t i = 0; i < n; ++i) src[static_cast<size_t>(i)] = static_cast<uint8_t>(i * 37 + (i >> 8));
      lut8__ref(n, src.data(), src_signed, table.data(), want.data());
      lut8__x86(n, src.data(), src_signed, table.data(), got.data());
      EXPECT_EQ(got, want) << "n " << n << " signed " << src_signed;  // incl. the untouched byte past n
      std::vector<uint8_t> inplace = src;
      lut8__x86(n, inplace.data(), src_signed, table.data(), inplace.data());
      EXPECT_TRUE(std::equal(inplace.begin(), inplace.end(), want.begin())) << "in place, n " << n;
    }
  }
}

}  // namespace
}  // namespace hqp::kernels
