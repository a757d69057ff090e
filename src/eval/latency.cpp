// measure_latency: warm-up, timed runs, statistics.
#include "eval/latency.h"

#include <chrono>
#include <vector>

namespace hqp::eval {

Result<metrics::LatencyStats> measure_latency(const std::function<Status()>& run_once, int warmup, int runs,
                                              const std::function<void()>& after_warmup) {
  if (runs < 1 || warmup < 0) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot measure latency: runs={} warmup={} (expected runs >= 1, warmup >= 0)", runs, warmup);
  }
  for (int i = 0; i < warmup; ++i) HQP_RETURN_IF_ERROR(run_once());
  if (after_warmup) after_warmup();
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(runs));
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    HQP_RETURN_IF_ERROR(run_once());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return metrics::latency_stats(ms);
}

Result<Tensor> latency_input(const Shape& shape) {
  HQP_ASSIGN_OR_RETURN(Tensor x, Tensor::zeros(DType::kF32, shape));
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<float>((i * 7919) % 255) / 255.0f - 0.5f;
  return x;
}

Result<metrics::LatencyStats> measure_latency(InferenceEngine& engine, std::span<const Tensor> inputs, int warmup,
                                              int runs) {
  return measure_latency([&]() { return engine.run(inputs).status(); }, warmup, runs, [&]() {
    if (Session* s = engine.session()) s->reset_profile();
  });
}

}  // namespace hqp::eval
