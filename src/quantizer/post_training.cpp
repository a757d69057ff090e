// quantize_model: calibration on the fast runtime, QDQ insertion, INT8 validation and the
// accuracy-aware fallback search.
#include "quantizer/post_training.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <unordered_set>

#include <fmt/format.h>

#include "eval/engine.h"
#include "eval/evaluate.h"
#include "runtime/session.h"

namespace hqp::quantizer {

namespace {

using Clock = std::chrono::steady_clock;

void report(const QuantizeCallbacks& cb, QuantizeProgress::Phase phase, int64_t done, int64_t total,
            const std::string& detail = {}) {
  if (cb.progress) cb.progress({phase, done, total, detail});
}

// Rows [begin, begin + rows) of an [N, ...] f32 tensor, as a new tensor.
Result<Tensor> row_slice(const Tensor& t, int64_t begin, int64_t rows) {
  Shape s = t.shape();
  const int64_t row_elems = t.dim(0) > 0 ? t.numel() / t.dim(0) : 0;
  s[0] = rows;
  HQP_ASSIGN_OR_RETURN(Tensor out, Tensor::zeros(DType::kF32, s));
  std::memcpy(out.data<float>(), t.data<float>() + begin * row_elems,
              static_cast<size_t>(rows * row_elems) * sizeof(float));
  return out;
}

Result<double> val_top1(const ir::Graph& graph, data::BatchSource& val, int threads, const QuantizeCallbacks& cb,
                        QuantizeProgress::Phase phase, const std::string& detail) {
  eval::EngineOptions eo;
  eo.kind = eval::EngineKind::kFast;
  eo.threads = threads;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> engine, eval::InferenceEngine::create(graph, eo));
  eval::EvalProgressCallback progress;
  if (cb.progress) progress = [&](const eval::EvalProgress& p) { report(cb, phase, p.step, p.steps, detail); };
  HQP_ASSIGN_OR_RETURN(eval::ClassificationReport r, eval::evaluate_classifier(graph, val, *engine, {}, progress));
  return r.metrics.top1();
}

Status check_config(const QuantizeConfig& c) {
  const auto bad = [](const std::string& what) {
    return make_error(StatusCode::kInvalidArgument, "cannot quantize: {}", what);
  };
  if (c.calib_samples < 1) return bad(fmt::format("calibration samples {} (expected >= 1)", c.calib_samples));
  if (c.calibrator.method == quant::Calibrator::kPercentile &&
      !(c.calibrator.percentile > 50.0 && c.calibrator.percentile <= 100.0)) {
    return bad(fmt::format("percentile {} (expected in (50, 100])", c.calibrator.percentile));
  }
  if (c.threads < 1) return bad(fmt::format("threads {} (expected >= 1)", c.threads));
  if (!(c.max_drop >= 0.0) || c.max_drop > 100.0) return bad(fmt::format("max drop {} (expected in [0, 100])", c.max_drop));
  return Status();
}

}  // namespace

std::string_view phase_name(QuantizeProgress::Phase phase) {
  switch (phase) {
    case QuantizeProgress::Phase::kCalibrate: return "calibrate";
    case QuantizeProgress::Phase::kHistogram: return "histogram";
    case QuantizeProgress::Phase::kValidateFloat: return "val float";
    case QuantizeProgress::Phase::kValidateInt8: return "val int8";
    case QuantizeProgress::Phase::kSensitivity: return "sensitivity";
    case QuantizeProgress::Phase::kFallback: return "fallback";
  }
  return "?";
}

Result<quant::ActivationStatistics> collect_statistics(const ir::Graph& g, data::BatchSource& calib, int64_t samples,
                                                       bool histogram, int threads, const QuantizeCallbacks& cb,
                                                       int64_t* samples_used) {
  if (g.inputs().empty() || g.inputs()[0]->dtype != DType::kF32) {
    return make_error(StatusCode::kInvalidArgument, "cannot calibrate model '{}': its first input is not f32",
                      g.info.graph_name);
  }
  // Every f32 tensor a node computes becomes an output of an unfused copy of the graph.
  ir::Graph obs = g.clone();
  for (const auto& n : obs.nodes()) {
    for (ir::Value* v : n->outputs()) {
      if (v != nullptr && v->dtype == DType::kF32 && !obs.is_graph_output(v)) obs.add_output(v);
    }
  }
  std::vector<std::pair<size_t, std::string>> observed;
  for (size_t i = 0; i < obs.outputs().size(); ++i) {
    if (obs.outputs()[i]->dtype == DType::kF32) observed.emplace_back(i, obs.outputs()[i]->name);
  }
  SessionOptions so;
  so.threads = threads;
  so.optimize = false;  // keep every tensor the QDQ graph will name
  HQP_ASSIGN_OR_RETURN(Session session, Session::create(obs, so));
  const ir::Value& input = *g.inputs()[0];
  int64_t chunk = 0;  // rows per run: the input's static batch, or the whole batch
  if (input.shape && !input.shape->empty() && (*input.shape)[0].is_static()) chunk = (*input.shape)[0].value;

  quant::ActivationStatistics stats;
  int64_t used_total = 0;
  const int passes = histogram ? 2 : 1;
  for (int pass = 0; pass < passes; ++pass) {
    if (pass == 1) stats.start_histogram_pass();
    const QuantizeProgress::Phase phase = pass == 0 ? QuantizeProgress::Phase::kCalibrate : QuantizeProgress::Phase::kHistogram;
    calib.start_epoch(0);
    int64_t used = 0;
    while (used < samples) {
      HQP_ASSIGN_OR_RETURN(std::optional<data::Batch> batch, calib.next());
      if (!batch) break;
      const int64_t n = batch->images.dim(0);
      const int64_t take = std::min(n, samples - used);
      const int64_t step = chunk > 0 ? chunk : take;
      for (int64_t begin = 0; begin + step <= take; begin += step) {
        Tensor x;
        if (begin == 0 && step == n) {
          x = batch->images;
        } else {
          HQP_ASSIGN_OR_RETURN(x, row_slice(batch->images, begin, step));
        }
        const Tensor inputs[] = {x};
        Result<std::vector<Tensor>> out = session.run(inputs);
        if (!out.ok()) return out.status().with_context("cannot calibrate");
        stats.observe(input.name, x.span<float>());
        for (const auto& [index, name] : observed) stats.observe(name, (*out)[index].span<float>());
        used += step;
      }
      if (take < n || (chunk > 0 && take % chunk != 0)) used = samples;  // partial chunk: stop here
      report(cb, phase, used, samples);
    }
    if (used == 0) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot calibrate: the calibration data gave no sample (expected >= 1{})",
                        chunk > 0 ? fmt::format(", in runs of the model's static batch {}", chunk) : std::string());
    }
    used_total = used;
  }
  if (samples_used != nullptr) *samples_used = used_total;
  return stats;
}

Result<QuantizeOutcome> quantize_model(const ir::Graph& model, data::BatchSource& calib, data::BatchSource& val,
                                       const QuantizeConfig& config, const QuantizeCallbacks& cb) {
  const Clock::time_point t0 = Clock::now();
  HQP_RETURN_IF_ERROR(check_config(config));
  const auto say = [&](const std::string& line) {
    if (cb.message) cb.message(line);
  };
  QuantizeOutcome out;
  ir::Graph prepared = model.clone();
  HQP_RETURN_IF_ERROR(quant::prepare_for_quantization(prepared).status());
  HQP_ASSIGN_OR_RETURN(const std::vector<std::string> candidates_all, quant::quantizable_nodes(prepared));
  for (const std::string& k : config.keep_float) {
    if (prepared.find_node(k) == nullptr) {
      return make_error(StatusCode::kInvalidArgument, "cannot keep node '{}' float: the model has no such node", k);
    }
  }

  HQP_ASSIGN_OR_RETURN(quant::ActivationStatistics stats,
                       collect_statistics(prepared, calib, config.calib_samples,
                                          quant::needs_histogram(config.calibrator.method), config.threads, cb,
                                          &out.calib_samples));
  out.observed_tensors = static_cast<int64_t>(stats.tensors().size());
  HQP_ASSIGN_OR_RETURN(quant::RangeMap ranges, quant::choose_ranges(stats, config.calibrator));
  say(fmt::format("calibrated on {} samples, {} tensors ({})", out.calib_samples, out.observed_tensors,
                  quant::calibrator_name(config.calibrator.method)));

  const auto build = [&](const std::vector<std::string>& keep) -> Result<std::pair<ir::Graph, quant::QdqStats>> {
    ir::Graph g = prepared.clone();
    quant::QdqOptions o;
    o.activations = config.calibrator.scheme;
    o.style = config.style;
    o.per_channel_weights = config.per_channel_weights;
    o.keep_float = keep;
    HQP_ASSIGN_OR_RETURN(quant::QdqStats s, quant::insert_qdq_with_ranges(g, ranges, o));
    return std::pair<ir::Graph, quant::QdqStats>{std::move(g), s};
  };

  HQP_ASSIGN_OR_RETURN(out.float_val_top1,
                       val_top1(model, val, config.threads, cb, QuantizeProgress::Phase::kValidateFloat, {}));
  std::vector<std::string> keep = config.keep_float;
  HQP_ASSIGN_OR_RETURN(auto built, build(keep));
  HQP_ASSIGN_OR_RETURN(out.int8_val_top1,
                       val_top1(built.first, val, config.threads, cb, QuantizeProgress::Phase::kValidateInt8, {}));
  out.all_int8_val_top1 = out.int8_val_top1;
  const auto drop_pp = [&](double top1) { return (out.float_val_top1 - top1) * 100.0; };
  say(fmt::format("val top1 float {:.2f}%, int8 {:.2f}% (drop {:.2f} pp)", 100.0 * out.float_val_top1,
                  100.0 * out.int8_val_top1, drop_pp(out.int8_val_top1)));
  constexpr double kEps = 1e-9;
  if (config.max_drop > 0.0 && drop_pp(out.int8_val_top1) > config.max_drop + kEps) {
    // Sensitivity: each candidate alone kept float.
    const std::unordered_set<std::string> user_keep(keep.begin(), keep.end());
    std::vector<std::string> candidates;
    for (const std::string& c : candidates_all) {
      if (user_keep.count(c) == 0) candidates.push_back(c);
    }
    for (size_t i = 0; i < candidates.size(); ++i) {
      std::vector<std::string> k = keep;
      k.push_back(candidates[i]);
      HQP_ASSIGN_OR_RETURN(auto b, build(k));
      HQP_ASSIGN_OR_RETURN(double top1, val_top1(b.first, val, config.threads, cb,
                                                 QuantizeProgress::Phase::kSensitivity,
                                                 fmt::format("{}/{} {}", i + 1, candidates.size(), candidates[i])));
      out.sensitivity.push_back({candidates[i], top1, (top1 - out.all_int8_val_top1) * 100.0});
    }
    std::stable_sort(out.sensitivity.begin(), out.sensitivity.end(),
                     [](const LayerSensitivity& a, const LayerSensitivity& b) { return a.gain_pp > b.gain_pp; });
    say(fmt::format("sensitivity of {} layers: most sensitive {} (+{:.2f} pp when float)", out.sensitivity.size(),
                    out.sensitivity.empty() ? std::string("-") : out.sensitivity.front().node,
                    out.sensitivity.empty() ? 0.0 : out.sensitivity.front().gain_pp));
    bool met = false;
    for (const LayerSensitivity& s : out.sensitivity) {
      keep.push_back(s.node);
      HQP_ASSIGN_OR_RETURN(built, build(keep));
      HQP_ASSIGN_OR_RETURN(out.int8_val_top1, val_top1(built.first, val, config.threads, cb,
                                                        QuantizeProgress::Phase::kFallback, s.node));
      say(fmt::format("kept float {} -> val top1 {:.2f}% (drop {:.2f} pp)", s.node, 100.0 * out.int8_val_top1,
                      drop_pp(out.int8_val_top1)));
      if (drop_pp(out.int8_val_top1) <= config.max_drop + kEps) {
        met = true;
        break;
      }
    }
    out.bound_met = met;
  }
  out.model = std::move(built.first);
  out.stats = built.second;
  out.kept_float = keep;
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

}  // namespace hqp::quantizer
