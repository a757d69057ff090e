// measure_latency: warm-up runs, then timed runs of an engine (or any callable) on fixed inputs,
// reduced to metrics::LatencyStats. What `hqp bench` and compress's latency checks time.
#pragma once

#include <functional>
#include <span>

#include "core/status.h"
#include "core/tensor.h"
#include "eval/engine.h"
#include "metrics/latency_stats.h"

namespace hqp::eval {

// Calls run_once `warmup` times untimed, then `after_warmup` (optional), then `runs` timed times
// (steady_clock, ms). The first failing call's status is returned. runs >= 1, warmup >= 0.
Result<metrics::LatencyStats> measure_latency(const std::function<Status()>& run_once, int warmup, int runs,
                                              const std::function<void()>& after_warmup = {});

// The fixed input every latency figure is timed on: f32 of `shape`, a deterministic pattern in
// [-0.5, 0.5) (not zeros: some kernels take shortcuts on zeros).
Result<Tensor> latency_input(const Shape& shape);

// The engine on `inputs`; a fast engine's profile is reset after the warm-up so it covers the
// timed runs only.
Result<metrics::LatencyStats> measure_latency(InferenceEngine& engine, std::span<const Tensor> inputs, int warmup,
                                              int runs);

}  // namespace hqp::eval
