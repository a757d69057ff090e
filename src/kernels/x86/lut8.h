// 8-bit table lookup (the QLut op) with a runtime-dispatched AVX-512 VBMI path: four 64-byte table
// registers, two VPERMI2B per 64 input bytes and a blend on the index's top bit. Same contract and
// result as kernels::lut8__ref (kernels/ref/quantize.h), which it runs on CPUs without VBMI.
#pragma once

#include <cstdint>
#include <string_view>

namespace hqp::kernels {

void lut8__x86(int64_t n, const uint8_t* src, bool src_signed, const uint8_t* table, uint8_t* dst);

// The path lut8__x86 takes on this CPU: "avx512_vbmi" or "ref".
std::string_view lut8__x86_isa();

}  // namespace hqp::kernels
