// 8-bit table lookup (the QLut op) with runtime-dispatched paths: AVX-512 VBMI (four 64-byte table
// registers, two VPERMI2B per 64 input bytes and a blend on the index's top bit), else AVX2 (16
// VPSHUFB lookups of the low nibble per 32 bytes, the high nibble picking one). Same contract and
// result as kernels::lut8__ref (kernels/ref/quantize.h), which it runs on other CPUs.
#pragma once

#include <cstdint>
#include <string_view>

namespace hqp::kernels {

void lut8__x86(int64_t n, const uint8_t* src, bool src_signed, const uint8_t* table, uint8_t* dst);

// The path lut8__x86 takes on this CPU: "avx512_vbmi", "avx2" or "ref".
std::string_view lut8__x86_isa();

}  // namespace hqp::kernels
