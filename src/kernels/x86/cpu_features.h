// What this CPU can run, asked once (GCC / Clang builtins): the x86 kernels' run-time dispatch.
// Each kernel is compiled per function for its ISA with a `target` attribute, so the build stays
// generic x86-64; these say which of those functions may be called here.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HQP_X86_DISPATCH 1
#endif

namespace hqp::kernels::x86 {

#ifdef HQP_X86_DISPATCH
// AVX-512 F + BW + VL + DQ (the element-wise builds' target).
inline bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return yes;
}
inline bool has_avx512_vbmi() {
  static const bool yes = has_avx512() && __builtin_cpu_supports("avx512vbmi");
  return yes;
}
// AVX2 + FMA (every AVX2 CPU of the last decade has both).
inline bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#else
inline bool has_avx512() { return false; }
inline bool has_avx512_vbmi() { return false; }
inline bool has_avx2() { return false; }
#endif

}  // namespace hqp::kernels::x86
