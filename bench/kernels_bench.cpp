// Kernel benchmarks (Google Benchmark): oneDNN FP32 vs INT8 convolutions on ResNet-18's conv
// shapes and MobileNetV3-Small's depthwise shapes at 224x224, batch 1, with achieved GOP/s next
// to the machine's peak. Not a test and not run in CI; build target hqp_kernels_bench.
//
// Peak (printed in the context block, derived from /proc/cpuinfo):
//   FP32 = cores x GHz x (512-bit FMA issue per cycle) x 16 lanes x 2 FLOP
//   INT8 = FP32 x 4 (VNNI vpdpbusd: 4 u8*s8 MACs per 32-bit lane where an FMA does 1)
// Intel server cores issue two 512-bit FMAs per cycle; AMD Zen 4 (family 25) executes AVX-512 as
// two 256-bit FMA pipes, i.e. one 512-bit FMA (and one 512-bit vpdpbusd) per cycle.
// GHz: /proc/cpuinfo's "cpu MHz" is the nominal clock (a KVM guest sees no boost), so the bench also
// measures one core's FP32 FMA throughput (12 independent zmm FMA chains) and derives the effective
// clock from it; the peak_GOPs counter uses that effective clock (the higher, honest ceiling).
//
// Usage: hqp_kernels_bench [--benchmark_filter=...] [--benchmark_min_time=0.2]
// Each benchmark name ends in /threads:N (oneDNN's OpenMP thread count, 1 and 2).
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <immintrin.h>

#include <time.h>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "kernels/onednn/conv_onednn.h"
#include "kernels/onednn/onednn_common.h"

namespace {

using hqp::DType;
using hqp::kernels::ConvParams;
namespace onednn = hqp::kernels::onednn;

// One conv layer shape; `repeats` is how often it occurs in the network.
struct ConvShape {
  std::string name;
  int64_t in_channels, out_channels, groups, in_size, kernel, stride, pad;
  int repeats;
};

// torchvision resnet18, 224x224 input: 20 convs (incl. 3 downsample 1x1), 1.81 GMAC.
const std::vector<ConvShape> kResNet18 = {
    {"r18_conv1_7x7s2", 3, 64, 1, 224, 7, 2, 3, 1},
    {"r18_l1_3x3_64", 64, 64, 1, 56, 3, 1, 1, 4},
    {"r18_l2_3x3s2_128", 64, 128, 1, 56, 3, 2, 1, 1},
    {"r18_l2_3x3_128", 128, 128, 1, 28, 3, 1, 1, 3},
    {"r18_l2_ds_1x1s2", 64, 128, 1, 56, 1, 2, 0, 1},
    {"r18_l3_3x3s2_256", 128, 256, 1, 28, 3, 2, 1, 1},
    {"r18_l3_3x3_256", 256, 256, 1, 14, 3, 1, 1, 3},
    {"r18_l3_ds_1x1s2", 128, 256, 1, 28, 1, 2, 0, 1},
    {"r18_l4_3x3s2_512", 256, 512, 1, 14, 3, 2, 1, 1},
    {"r18_l4_3x3_512", 512, 512, 1, 7, 3, 1, 1, 3},
    {"r18_l4_ds_1x1s2", 256, 512, 1, 14, 1, 2, 0, 1},
};

// torchvision mobilenet_v3_small depthwise convs (channels, kernel, stride, input size).
const std::vector<ConvShape> kMobileNetV3SmallDw = {
    {"mv3s_dw16_3x3s2", 16, 16, 16, 112, 3, 2, 1, 1},   {"mv3s_dw72_3x3s2", 72, 72, 72, 56, 3, 2, 1, 1},
    {"mv3s_dw88_3x3", 88, 88, 88, 28, 3, 1, 1, 1},      {"mv3s_dw96_5x5s2", 96, 96, 96, 28, 5, 2, 2, 1},
    {"mv3s_dw240_5x5", 240, 240, 240, 14, 5, 1, 2, 2},  {"mv3s_dw120_5x5", 120, 120, 120, 14, 5, 1, 2, 1},
    {"mv3s_dw144_5x5", 144, 144, 144, 14, 5, 1, 2, 1},  {"mv3s_dw288_5x5s2", 288, 288, 288, 14, 5, 2, 2, 1},
    {"mv3s_dw576_5x5", 576, 576, 576, 7, 5, 1, 2, 2},
};

ConvParams conv_params(const ConvShape& s) {
  ConvParams p;
  p.in_channels = s.in_channels;
  p.out_channels = s.out_channels;
  p.groups = s.groups;
  const int64_t out = (s.in_size + 2 * s.pad - s.kernel) / s.stride + 1;
  for (int i = 0; i < 2; ++i) {
    p.in_size[i] = s.in_size;
    p.out_size[i] = out;
    p.kernel[i] = s.kernel;
    p.stride[i] = s.stride;
    p.pad_begin[i] = s.pad;
  }
  return p;
}

double conv_ops(const ConvParams& p) {  // 2 ops per MAC
  return 2.0 * static_cast<double>(p.out_channels * p.out_size[0] * p.out_size[1] * (p.in_channels / p.groups) *
                                   p.kernel[0] * p.kernel[1]);
}

struct Machine {
  std::string model;
  double ghz = 0.0;            // /proc/cpuinfo "cpu MHz" / 1000
  double measured_gflops = 0;  // one core, FP32 zmm FMAs
  int cores = 0;
  int fma512_per_cycle = 2;
  double effective_ghz() const { return std::max(ghz, measured_gflops / (fma512_per_cycle * 16 * 2)); }
  double peak_f32_gflops_per_core() const { return effective_ghz() * fma512_per_cycle * 16 * 2; }
  double peak_int8_gops_per_core() const { return peak_f32_gflops_per_core() * 4; }
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// FP32 GFLOP/s of 12 independent chains of 512-bit FMAs on the calling thread (latency 4 x 2
// pipes < 12 chains, so throughput-bound).
__attribute__((target("avx512f"))) double measure_fma_gflops() {
  constexpr int kChains = 12;
  constexpr int64_t kIters = 20'000'000;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  const double start = thread_cpu_seconds();  // CPU time: immune to preemption on a shared machine
  for (int64_t it = 0; it < kIters; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  const double seconds = thread_cpu_seconds() - start;
  alignas(64) float lanes[16];
  float sink = 0.0f;
  for (int i = 0; i < kChains; ++i) {
    _mm512_store_ps(lanes, acc[i]);
    sink += lanes[0];
  }
  benchmark::DoNotOptimize(sink);
  return static_cast<double>(kIters) * kChains * 16 * 2 / seconds * 1e-9;
}

Machine read_machine() {
  Machine m;
  std::ifstream in("/proc/cpuinfo");
  std::string line, vendor;
  int family = 0;
  while (std::getline(in, line)) {
    const auto value = [&] { return line.substr(line.find(':') + 2); };
    if (line.rfind("model name", 0) == 0 && m.model.empty()) m.model = value();
    if (line.rfind("vendor_id", 0) == 0 && vendor.empty()) vendor = value();
    if (line.rfind("cpu family", 0) == 0 && family == 0) family = std::stoi(value());
    if (line.rfind("cpu MHz", 0) == 0 && m.ghz == 0.0) m.ghz = std::stod(value()) / 1000.0;
    if (line.rfind("processor", 0) == 0) ++m.cores;
  }
  // AMD Zen 4 (family 0x19) splits a 512-bit FMA over its two 256-bit pipes.
  if (vendor == "AuthenticAMD" && family == 25) m.fma512_per_cycle = 1;
  m.measured_gflops = measure_fma_gflops();
  return m;
}

const Machine& machine() {
  static const Machine m = read_machine();
  return m;
}

enum class Variant { kF32Nchw, kF32Nhwc, kU8S8Nhwc };

void bench_conv(benchmark::State& state, ConvShape shape, Variant variant, int threads) {
  if (!onednn::set_num_threads(threads).ok()) {
    state.SkipWithError("set_num_threads failed");
    return;
  }
  const ConvParams p = conv_params(shape);
  const int64_t src_n = p.in_channels * p.in_size[0] * p.in_size[1];
  const int64_t dst_n = p.out_channels * p.out_size[0] * p.out_size[1];
  const int64_t wei_n = p.out_channels * (p.in_channels / p.groups) * p.kernel[0] * p.kernel[1];
  std::string impl;
  std::function<void()> run;
  std::shared_ptr<void> keep;
  if (variant == Variant::kU8S8Nhwc) {
    onednn::ConvInt8OnednnParams params;
    params.conv = p;
    params.has_bias = true;
    params.out.src_scale = 0.02f;
    params.out.dst_scale = 0.05f;
    params.out.act_min = 0.0f;  // fused ReLU, u8 in -> u8 out (zero points 0: post-ReLU activations)
    std::vector<int8_t> wei(static_cast<size_t>(wei_n), 3);
    std::vector<float> scales(static_cast<size_t>(p.out_channels), 0.01f);
    std::vector<int32_t> bias(static_cast<size_t>(p.out_channels), 10);
    auto kernel = onednn::ConvInt8Onednn::create(params, wei.data(), scales.data(), bias.data());
    if (!kernel.ok()) {
      state.SkipWithError(kernel.status().message().c_str());
      return;
    }
    auto k = std::make_shared<onednn::ConvInt8Onednn>(std::move(kernel).value());
    auto src = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(src_n), 7);
    auto dst = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(dst_n));
    impl = k->implementation();
    run = [k, src, dst] { (void)k->run(src->data(), nullptr, dst->data()); };
  } else {
    onednn::ConvF32OnednnParams params;
    params.conv = p;
    params.layout = variant == Variant::kF32Nhwc ? onednn::Layout::kNhwc : onednn::Layout::kNchw;
    params.has_bias = true;
    params.post_ops.activation = onednn::Activation::kRelu;
    std::vector<float> wei(static_cast<size_t>(wei_n), 0.01f), bias(static_cast<size_t>(p.out_channels), 0.1f);
    auto kernel = onednn::ConvF32Onednn::create(params, wei.data(), bias.data());
    if (!kernel.ok()) {
      state.SkipWithError(kernel.status().message().c_str());
      return;
    }
    auto k = std::make_shared<onednn::ConvF32Onednn>(std::move(kernel).value());
    auto src = std::make_shared<std::vector<float>>(static_cast<size_t>(src_n), 0.5f);
    auto dst = std::make_shared<std::vector<float>>(static_cast<size_t>(dst_n));
    impl = k->implementation();
    run = [k, src, dst] { (void)k->run(src->data(), nullptr, dst->data()); };
  }
  run();  // warm up (first touch, JIT caches)
  const double cpu_start = process_cpu_seconds();
  for (auto _ : state) run();
  const double cpu_seconds = process_cpu_seconds() - cpu_start;
  const double ops = conv_ops(p);
  // Throughput per CPU-second of all threads: what the kernel achieves while it is actually
  // scheduled (wall-clock GOPs also counts time preempted by other processes on a shared machine).
  state.counters["GOPs_per_cpu_s"] = ops * static_cast<double>(state.iterations()) / cpu_seconds * 1e-9;
  const double peak = (variant == Variant::kU8S8Nhwc ? machine().peak_int8_gops_per_core()
                                                     : machine().peak_f32_gflops_per_core()) * threads;
  state.counters["GOPs"] = benchmark::Counter(ops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_GOPs"] = peak;
  state.counters["repeats"] = shape.repeats;
  state.SetLabel(impl);
}

}  // namespace

int main(int argc, char** argv) {
  const Machine& m = machine();
  benchmark::AddCustomContext("cpu_model", m.model);
  benchmark::AddCustomContext("cpu_ghz_cpuinfo", fmt::format("{:.3f}", m.ghz));
  benchmark::AddCustomContext("cores", std::to_string(m.cores));
  benchmark::AddCustomContext("fma512_per_cycle", std::to_string(m.fma512_per_cycle));
  benchmark::AddCustomContext("measured_fma_gflops_1core", fmt::format("{:.1f}", m.measured_gflops));
  benchmark::AddCustomContext("effective_ghz", fmt::format("{:.3f}", m.effective_ghz()));
  benchmark::AddCustomContext("peak_f32_gflops_per_core",
                              fmt::format("{:.1f} (= {:.3f} GHz x {} x 16 lanes x 2)", m.peak_f32_gflops_per_core(),
                                          m.effective_ghz(), m.fma512_per_cycle));
  benchmark::AddCustomContext("peak_int8_gops_per_core",
                              fmt::format("{:.1f} (= FP32 peak x 4, VNNI)", m.peak_int8_gops_per_core()));
  benchmark::AddCustomContext("onednn", onednn::onednn_version() + " / " + std::string(onednn::threading_runtime()));

  const struct {
    const char* name;
    Variant variant;
  } variants[] = {{"conv_f32_nchw", Variant::kF32Nchw}, {"conv_f32_nhwc", Variant::kF32Nhwc},
                  {"conv_u8s8_nhwc", Variant::kU8S8Nhwc}};
  for (const auto* shapes : {&kResNet18, &kMobileNetV3SmallDw}) {
    for (const ConvShape& s : *shapes) {
      for (const auto& v : variants) {
        for (int threads : {1, 2}) {
          benchmark::RegisterBenchmark(fmt::format("{}/{}/threads:{}", v.name, s.name, threads).c_str(), bench_conv, s,
                                       v.variant, threads)
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
