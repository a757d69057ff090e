// What this CPU can run, asked once (GCC / Clang builtins): the x86 kernels' run-time dispatch.
// Each kernel is compiled per function for its ISA with a `target` attribute, so the build stays
// generic x86-64; these say which of those functions may be called here.
// ONEDNN_MAX_CPU_ISA (or its old name DNNL_MAX_CPU_ISA), oneDNN's own cap, caps these too, so one
// variable holds the whole process to a lower ISA (e.g. AVX2: the kernels of a CPU without
// AVX-512, which the tests run on any CPU). Read as oneDNN 2.6 reads it (exact, upper-case names):
// SSE41 / AVX turn off the AVX2 and AVX-512 kernels; AVX2, AVX2_VNNI and the AVX512_MIC names
// (no BW / VL / DQ) the AVX-512 ones; other values change nothing.
#pragma once

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HQP_X86_DISPATCH 1
#endif

namespace hqp::kernels::x86 {

#ifdef HQP_X86_DISPATCH
// The cap set by ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA: 2 none, 1 AVX2 at most, 0 below AVX2.
inline int isa_cap() {
  static const int cap = [] {
    const char* v = std::getenv("ONEDNN_MAX_CPU_ISA");
    if (v == nullptr) v = std::getenv("DNNL_MAX_CPU_ISA");
    if (v == nullptr) return 2;
    for (const char* below_avx2 : {"SSE41", "AVX"}) {
      if (std::strcmp(v, below_avx2) == 0) return 0;
    }
    for (const char* avx2 : {"AVX2", "AVX2_VNNI", "AVX512_MIC", "AVX512_MIC_4OPS"}) {
      if (std::strcmp(v, avx2) == 0) return 1;
    }
    return 2;
  }();
  return cap;
}
// AVX-512 F + BW + VL + DQ (the element-wise builds' target).
inline bool has_avx512() {
  static const bool yes = isa_cap() >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return yes;
}
inline bool has_avx512_vbmi() {
  static const bool yes = has_avx512() && __builtin_cpu_supports("avx512vbmi");
  return yes;
}
// AVX2 + FMA (every AVX2 CPU of the last decade has both).
inline bool has_avx2() {
  static const bool yes = isa_cap() >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#else
inline bool has_avx512() { return false; }
inline bool has_avx512_vbmi() { return false; }
inline bool has_avx2() { return false; }
#endif

}  // namespace hqp::kernels::x86
