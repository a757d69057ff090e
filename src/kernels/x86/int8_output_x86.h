// int8_output_nhwc__ref (kernels/ref/conv_int8.h), the INT8 conv / gemm epilogue over channels-last
// rows, compiled again for AVX2 + FMA and for AVX-512 and chosen at run time: the same loop body
// (kernels/ref/int8_output_impl.h), so the reference's result bit for bit, 8 / 16 lanes wide. On
// other CPUs it calls the reference kernel.
#pragma once

#include <cstdint>
#include <string_view>

#include "kernels/ref/conv_int8.h"

namespace hqp::kernels {

void int8_output_nhwc__x86(const Int8OutputParams& out, const float* multipliers, const int32_t* bias, int64_t rows,
                           int64_t channels, const int32_t* acc, const void* sum, void* dst, int pieces = 1);

// The path it takes on this CPU: "avx512", "avx2" or "ref".
std::string_view int8_output__x86_isa();

}  // namespace hqp::kernels
