// quantize_model: calibration on the fast runtime, QDQ insertion, INT8 validation and the
// accuracy-aware fallback search.
#include "quantizer/post_training.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "eval/engine.h"
#include "eval/evaluate.h"
#include "ir/verifier.h"
#include "ir/rewrite.h"
#include "quant/cross_layer_equalization.h"
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
                        QuantizeProgress::Phase phase, const std::string& detail, distributed::ProcessGroup* group) {
  eval::EngineOptions eo;
  eo.kind = eval::EngineKind::kFast;
  eo.threads = threads;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> engine, eval::InferenceEngine::create(graph, eo));
  eval::EvalProgressCallback progress;
  if (cb.progress) progress = [&](const eval::EvalProgress& p) { report(cb, phase, p.step, p.steps, detail); };
  HQP_ASSIGN_OR_RETURN(eval::ClassificationReport r, eval::evaluate_classifier(graph, val, *engine, {}, progress));
  return distributed::global_fraction(group, r.metrics.top1_count(), r.metrics.samples());
}

// Data-parallel calibration: every rank's statistics merged into each rank's `stats` -- after
// pass 1 the ranges (min of mins, max of maxes, non-finite counts summed), after pass 2 the
// histograms over those common ranges (bins and zeros summed). Tensors in name order.
Status merge_statistics(distributed::ProcessGroup& group, quant::ActivationStatistics& stats, bool histogram) {
  auto& tensors = stats.mutable_tensors();
  std::vector<std::string> names;
  for (const auto& [name, t] : tensors) names.push_back(name);
  std::sort(names.begin(), names.end());
  int64_t count[2] = {static_cast<int64_t>(names.size()), -static_cast<int64_t>(names.size())};
  HQP_RETURN_IF_ERROR(group.all_reduce(std::span<int64_t>(count, 2), distributed::ReduceOp::kMax));
  if (count[0] != -count[1]) {
    return make_error(StatusCode::kInternal, "cannot merge calibration statistics: ranks observed {} to {} tensors",
                      -count[1], count[0]);
  }
  if (!histogram) {
    std::vector<float> lo, hi;
    std::vector<int64_t> nonfinite;
    for (const std::string& n : names) {
      lo.push_back(tensors[n].range.min);
      hi.push_back(tensors[n].range.max);
      nonfinite.push_back(tensors[n].nonfinite);
    }
    HQP_RETURN_IF_ERROR(group.all_reduce(std::span<float>(lo), distributed::ReduceOp::kMin));
    HQP_RETURN_IF_ERROR(group.all_reduce(std::span<float>(hi), distributed::ReduceOp::kMax));
    HQP_RETURN_IF_ERROR(group.all_reduce(std::span<int64_t>(nonfinite)));
    for (size_t i = 0; i < names.size(); ++i) {
      quant::TensorStatistics& t = tensors[names[i]];
      t.range.min = lo[i];
      t.range.max = hi[i];
      t.nonfinite = nonfinite[i];
    }
    return Status();
  }
  std::vector<double> flat;
  for (const std::string& n : names) {
    quant::TensorStatistics& t = tensors[n];
    if (t.histogram.empty()) t.histogram.assign(quant::kHistogramBins, 0.0);
    flat.insert(flat.end(), t.histogram.begin(), t.histogram.end());
    flat.push_back(t.zeros);
  }
  HQP_RETURN_IF_ERROR(group.all_reduce(std::span<double>(flat)));
  size_t i = 0;
  for (const std::string& n : names) {
    quant::TensorStatistics& t = tensors[n];
    std::copy_n(flat.begin() + static_cast<std::ptrdiff_t>(i), t.histogram.size(), t.histogram.begin());
    i += t.histogram.size();
    t.zeros = flat[i++];
  }
  return Status();
}

// Calls fn(x) for the first `samples` rows of `calib` (epoch 0), in runs of the model's static batch
// `chunk` (0: whole batches, the last one cut to `samples`). Returns the rows used.
Result<int64_t> for_each_rows(data::BatchSource& calib, int64_t samples, int64_t chunk,
                              const std::function<Status(const Tensor&)>& fn,
                              const std::function<void(int64_t)>& progress = {}) {
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
      HQP_RETURN_IF_ERROR(fn(x));
      used += step;
    }
    if (take < n || (chunk > 0 && take % chunk != 0)) break;  // the rest of this batch is not used
    if (progress) progress(used);
  }
  if (used == 0) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot calibrate: the calibration data gave no sample (expected >= 1{})",
                      chunk > 0 ? fmt::format(", in runs of the model's static batch {}", chunk) : std::string());
  }
  return used;
}

int64_t static_batch(const ir::Graph& g) {
  const ir::Value& input = *g.inputs()[0];
  if (input.shape && !input.shape->empty() && (*input.shape)[0].is_static()) return (*input.shape)[0].value;
  return 0;
}

// An unfused session over a copy of `g` whose outputs are followed by the f32 values `names`
// (all f32 node outputs when `names` is empty); `index` gets each name's output position.
Result<Session> observing_session(const ir::Graph& g, const std::vector<std::string>& names, int threads,
                                  std::vector<std::pair<size_t, std::string>>& index) {
  ir::Graph obs = g.clone();
  if (names.empty()) {
    for (const auto& n : obs.nodes()) {
      for (ir::Value* v : n->outputs()) {
        if (v != nullptr && v->dtype == DType::kF32 && !obs.is_graph_output(v)) obs.add_output(v);
      }
    }
  } else {
    for (const std::string& name : names) {
      ir::Value* v = obs.find_value(name);
      if (v == nullptr) return make_error(StatusCode::kInternal, "cannot observe value '{}': not in the graph", name);
      if (!obs.is_graph_output(v)) obs.add_output(v);
    }
  }
  index.clear();
  for (size_t i = 0; i < obs.outputs().size(); ++i) {
    if (obs.outputs()[i]->dtype == DType::kF32) index.emplace_back(i, obs.outputs()[i]->name);
  }
  SessionOptions so;
  so.threads = threads;
  so.optimize = false;  // keep every tensor the QDQ graph will name
  return Session::create(obs, so);
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
                                                       int64_t* samples_used, distributed::ProcessGroup* group) {
  if (g.inputs().empty() || g.inputs()[0]->dtype != DType::kF32) {
    return make_error(StatusCode::kInvalidArgument, "cannot calibrate model '{}': its first input is not f32",
                      g.info.graph_name);
  }
  // Every f32 tensor a node computes becomes an output of an unfused copy of the graph.
  std::vector<std::pair<size_t, std::string>> observed;
  HQP_ASSIGN_OR_RETURN(Session session, observing_session(g, {}, threads, observed));
  const std::string input_name = g.inputs()[0]->name;
  const int64_t chunk = static_batch(g);
  quant::ActivationStatistics stats;
  int64_t used = 0;
  for (int pass = 0; pass < (histogram ? 2 : 1); ++pass) {
    if (pass == 1) stats.start_histogram_pass();
    const QuantizeProgress::Phase phase = pass == 0 ? QuantizeProgress::Phase::kCalibrate : QuantizeProgress::Phase::kHistogram;
    HQP_ASSIGN_OR_RETURN(used, for_each_rows(
                                   calib, samples, chunk,
                                   [&](const Tensor& x) -> Status {
                                     const Tensor inputs[] = {x};
                                     Result<std::vector<Tensor>> out = session.run(inputs);
                                     if (!out.ok()) return out.status().with_context("cannot calibrate");
                                     stats.observe(input_name, x.span<float>());
                                     for (const auto& [i, name] : observed) stats.observe(name, (*out)[i].span<float>());
                                     return Status();
                                   },
                                   [&](int64_t done) { report(cb, phase, done, samples); }));
    if (group != nullptr) HQP_RETURN_IF_ERROR(merge_statistics(*group, stats, pass == 1));
  }
  if (group != nullptr) HQP_RETURN_IF_ERROR(group->all_reduce(std::span<int64_t>(&used, 1)));
  if (samples_used != nullptr) *samples_used = used;
  return stats;
}

namespace {

// The f32 values of DequantizeLinear(q, scale, zero point, axis) over constants; nullopt otherwise.
std::optional<Tensor> dequantized_constant(const ir::Value* v) {
  const ir::Node* dq = v != nullptr ? v->producer() : nullptr;
  if (dq == nullptr || dq->kind != ir::OpKind::DequantizeLinear) return std::nullopt;
  const Tensor* q = ir::constant_of(dq->input(0));
  const Tensor* sc = ir::constant_of(dq->input(1));
  const Tensor* zp = dq->input(2) != nullptr ? ir::constant_of(dq->input(2)) : nullptr;
  if (q == nullptr || sc == nullptr || sc->dtype() != DType::kF32 || (dq->input(2) != nullptr && zp == nullptr)) {
    return std::nullopt;
  }
  const int64_t axis = sc->numel() > 1 ? dq->attr<ir::AxisAttrs>().axis : 0;
  const int64_t rank = q->rank();
  const int64_t ax = axis < 0 ? axis + rank : axis;
  int64_t inner = 1;
  for (int64_t d = ax + 1; d < rank; ++d) inner *= q->dim(d);
  const int64_t len = sc->numel() > 1 ? q->dim(ax) : 1;
  Tensor out = Tensor::zeros(DType::kF32, q->shape()).value();
  for (int64_t i = 0; i < q->numel(); ++i) {
    const int64_t c = sc->numel() > 1 ? (i / inner) % len : 0;
    const double z = zp != nullptr ? static_cast<double>(zp->element_as_int64(c)) : 0.0;
    out.data<float>()[i] = static_cast<float>((static_cast<double>(q->element_as_int64(i)) - z) * sc->data<float>()[c]);
  }
  return out;
}

}  // namespace

Result<ChannelMeans> input_channel_means(const ir::Graph& prepared, const std::vector<std::string>& nodes,
                                         data::BatchSource& calib, int64_t samples, int threads,
                                         distributed::ProcessGroup* group) {
  std::vector<std::string> inputs;
  for (const std::string& n : nodes) {
    const ir::Node* node = prepared.find_node(n);
    if (node == nullptr) return make_error(StatusCode::kInternal, "cannot measure the input of node '{}': no such node", n);
    if (std::find(inputs.begin(), inputs.end(), node->input(0)->name) == inputs.end()) {
      inputs.push_back(node->input(0)->name);
    }
  }
  std::vector<std::pair<size_t, std::string>> index;
  HQP_ASSIGN_OR_RETURN(Session fs, observing_session(prepared, inputs, threads, index));
  std::unordered_map<std::string, std::vector<double>> sums;
  std::unordered_map<std::string, int64_t> counts;
  const std::string graph_input = prepared.inputs()[0]->name;
  HQP_RETURN_IF_ERROR(for_each_rows(calib, samples, static_batch(prepared), [&](const Tensor& x) -> Status {
                        const Tensor in[] = {x};
                        HQP_ASSIGN_OR_RETURN(std::vector<Tensor> out, fs.run(in));
                        const auto add = [&](const std::string& name, const Tensor& a) {
                          if (a.rank() < 2) return;
                          const int64_t n = a.dim(0), c = a.dim(1), inner = a.numel() / std::max<int64_t>(1, n * c);
                          std::vector<double>& sum = sums[name];
                          if (sum.empty()) sum.assign(static_cast<size_t>(c), 0.0);
                          for (int64_t r = 0; r < n; ++r) {
                            for (int64_t ch = 0; ch < c; ++ch) {
                              const float* p = a.data<float>() + (r * c + ch) * inner;
                              double acc = 0.0;
                              for (int64_t i = 0; i < inner; ++i) acc += p[i];
                              sum[static_cast<size_t>(ch)] += acc;
                            }
                          }
                          counts[name] += n * inner;
                        };
                        for (const auto& [i, name] : index) {
                          if (std::find(inputs.begin(), inputs.end(), name) != inputs.end()) add(name, out[i]);
                        }
                        if (std::find(inputs.begin(), inputs.end(), graph_input) != inputs.end()) add(graph_input, x);
                        return Status();
                      }).status());
  if (group != nullptr) {
    // Every rank's sums and counts, value by value in `inputs` order (all ranks saw all of them).
    std::vector<double> flat;
    for (const std::string& n : inputs) {
      const std::vector<double>& sum = sums[n];
      flat.push_back(static_cast<double>(sum.size()));
      flat.insert(flat.end(), sum.begin(), sum.end());
      flat.push_back(static_cast<double>(counts[n]));
    }
    std::vector<double> check = {static_cast<double>(flat.size()), -static_cast<double>(flat.size())};
    HQP_RETURN_IF_ERROR(group->all_reduce(std::span<double>(check), distributed::ReduceOp::kMax));
    if (check[0] != -check[1]) {
      return make_error(StatusCode::kInternal, "cannot merge channel means: the ranks measured different tensors");
    }
    HQP_RETURN_IF_ERROR(group->all_reduce(std::span<double>(flat)));
    size_t i = 0;
    for (const std::string& n : inputs) {
      std::vector<double>& sum = sums[n];
      i += 1;
      std::copy_n(flat.begin() + static_cast<std::ptrdiff_t>(i), sum.size(), sum.begin());
      i += sum.size();
      counts[n] = static_cast<int64_t>(std::llround(flat[i++]));
    }
  }
  ChannelMeans means;
  for (auto& [name, sum] : sums) {
    if (counts[name] == 0) continue;
    for (double& m : sum) m /= static_cast<double>(counts[name]);
    means.emplace(name, std::move(sum));
  }
  return means;
}

Result<int> correct_biases(ir::Graph& prepared, const ir::Graph& qdq, const std::vector<std::string>& nodes,
                           data::BatchSource& calib, int64_t samples, int threads) {
  HQP_ASSIGN_OR_RETURN(ChannelMeans means, input_channel_means(prepared, nodes, calib, samples, threads));
  return correct_biases(prepared, qdq, nodes, means);
}

Result<int> correct_biases(ir::Graph& prepared, const ir::Graph& qdq, const std::vector<std::string>& nodes,
                           const ChannelMeans& means) {
  for (const std::string& n : nodes) {
    if (prepared.find_node(n) == nullptr || qdq.find_node(n) == nullptr) {
      return make_error(StatusCode::kInternal, "cannot correct the bias of node '{}': not in both graphs", n);
    }
  }
  // shift[o] = sum over the inputs of (W - dequantized W)[o, ...] * E[x]: the mean output error the
  // weight quantization adds (Nagel et al. 2019, eq. 12, with E[x] measured).
  int corrected = 0;
  for (const std::string& name : nodes) {
    ir::Node* node = prepared.find_node(name);
    const ir::Node* qnode = qdq.find_node(name);
    const Tensor* w = ir::constant_of(node->input(1));
    const std::optional<Tensor> wq = dequantized_constant(qnode->input(1));
    auto sit = means.find(node->input(0)->name);
    if (w == nullptr || !wq || wq->shape() != w->shape() || sit == means.end()) continue;
    const std::vector<double>& mean = sit->second;
    int64_t oc = 0;
    std::vector<double> shift;
    if (node->kind == ir::OpKind::Conv) {
      oc = w->dim(0);
      const int64_t cin = w->dim(1), k = w->numel() / (oc * cin);
      const int64_t group = node->attr<ir::ConvAttrs>().group, per_group = oc / group;
      if (static_cast<int64_t>(mean.size()) != cin * group) continue;
      shift.assign(static_cast<size_t>(oc), 0.0);
      for (int64_t o = 0; o < oc; ++o) {
        for (int64_t c = 0; c < cin; ++c) {
          const double m = mean[static_cast<size_t>((o / per_group) * cin + c)];
          for (int64_t j = 0; j < k; ++j) {
            const int64_t i = (o * cin + c) * k + j;
            shift[static_cast<size_t>(o)] += (static_cast<double>(w->data<float>()[i]) - wq->data<float>()[i]) * m;
          }
        }
      }
    } else {
      const bool trans_b = node->attr<ir::GemmAttrs>().trans_b != 0;
      oc = trans_b ? w->dim(0) : w->dim(1);
      const int64_t kdim = trans_b ? w->dim(1) : w->dim(0);
      if (static_cast<int64_t>(mean.size()) != kdim || node->input(2) == nullptr) continue;
      shift.assign(static_cast<size_t>(oc), 0.0);
      for (int64_t o = 0; o < oc; ++o) {
        for (int64_t kk = 0; kk < kdim; ++kk) {
          const int64_t i = trans_b ? o * kdim + kk : kk * oc + o;
          shift[static_cast<size_t>(o)] += (static_cast<double>(w->data<float>()[i]) - wq->data<float>()[i]) * mean[static_cast<size_t>(kk)];
        }
      }
    }
    Tensor bias = Tensor::zeros(DType::kF32, {oc}).value();
    if (node->input(2) != nullptr) {
      const Tensor* old = ir::constant_of(node->input(2));
      if (old == nullptr || old->dtype() != DType::kF32 || (old->numel() != oc && old->numel() != 1)) continue;
      for (int64_t i = 0; i < oc; ++i) bias.data<float>()[i] = old->data<float>()[old->numel() == 1 ? 0 : i];
    }
    for (int64_t i = 0; i < oc; ++i) bias.data<float>()[i] += static_cast<float>(shift[static_cast<size_t>(i)]);
    if (node->input(2) != nullptr && node->input(2)->shape && node->input(2)->shape->size() == 2) {
      HQP_ASSIGN_OR_RETURN(bias, bias.reshaped({1, oc}));  // a Gemm's [1, N] bias keeps its rank
    }
    const std::string base = node->input(2) != nullptr ? node->input(2)->name : node->name + ".bias";
    prepared.set_input(node, 2, prepared.add_initializer(prepared.unique_name(base + "_corrected"), std::move(bias)));
    ++corrected;
  }
  prepared.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::verify_and_infer(prepared).with_context("cannot correct biases"));
  return corrected;
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
    const ir::Node* n = prepared.find_node(k);
    if (n == nullptr) {
      return make_error(StatusCode::kInvalidArgument, "cannot keep node '{}' float: the model has no such node", k);
    }
    if (std::find(candidates_all.begin(), candidates_all.end(), k) == candidates_all.end()) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot keep node '{}' float: it is {}, not a Conv / Gemm the quantizer would quantize", k,
                        ir::op_name(n->kind));
    }
  }

  // This rank's calibration rows (all of calib_samples without a group).
  const int64_t calib_rows = config.group != nullptr ? config.calib_quota : config.calib_samples;
  if (config.group != nullptr && calib_rows < 1) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot calibrate on rank {} of {}: it holds none of the first {} calibration samples (give "
                      "--calib-samples >= the global batch)",
                      config.group->rank(), config.group->world_size(), config.calib_samples);
  }
  if (config.cle) {
    HQP_ASSIGN_OR_RETURN(quant::CleStats cle, quant::equalize_cross_layer(prepared));
    out.cle_pairs = cle.pairs;
    say(fmt::format("cross-layer equalization: {} conv pairs ({} sweeps)", cle.pairs, cle.iterations));
  }
  HQP_ASSIGN_OR_RETURN(quant::ActivationStatistics stats,
                       collect_statistics(prepared, calib, calib_rows,
                                          quant::needs_histogram(config.calibrator.method), config.threads, cb,
                                          &out.calib_samples, config.group.get()));
  out.observed_tensors = static_cast<int64_t>(stats.tensors().size());
  HQP_ASSIGN_OR_RETURN(quant::RangeMap ranges, quant::choose_ranges(stats, config.calibrator));
  say(fmt::format("calibrated on {} samples, {} tensors ({})", out.calib_samples, out.observed_tensors,
                  quant::calibrator_name(config.calibrator.method)));

  int biases_corrected = 0;
  // The float inputs' channel means do not depend on which layers stay float: measured once.
  ChannelMeans input_means;
  if (config.bias_correction) {
    HQP_ASSIGN_OR_RETURN(input_means, input_channel_means(prepared, candidates_all, calib, calib_rows,
                                                          config.threads, config.group.get()));
  }
  const auto build = [&](const std::vector<std::string>& keep) -> Result<std::pair<ir::Graph, quant::QdqStats>> {
    quant::QdqOptions o;
    o.activations = config.calibrator.scheme;
    o.style = config.style;
    o.per_channel_weights = config.per_channel_weights;
    o.keep_float = keep;
    ir::Graph g = prepared.clone();
    HQP_ASSIGN_OR_RETURN(quant::QdqStats s, quant::insert_qdq_with_ranges(g, ranges, o));
    if (config.bias_correction) {
      const std::unordered_set<std::string> kept(keep.begin(), keep.end());
      std::vector<std::string> quantized;
      for (const std::string& n : candidates_all) {
        if (kept.count(n) == 0) quantized.push_back(n);
      }
      ir::Graph corrected = prepared.clone();
      HQP_ASSIGN_OR_RETURN(biases_corrected, correct_biases(corrected, g, quantized, input_means));
      g = corrected.clone();
      HQP_ASSIGN_OR_RETURN(s, quant::insert_qdq_with_ranges(g, ranges, o));
    }
    return std::pair<ir::Graph, quant::QdqStats>{std::move(g), s};
  };

  HQP_ASSIGN_OR_RETURN(out.float_val_top1,
                       val_top1(model, val, config.threads, cb, QuantizeProgress::Phase::kValidateFloat, {},
                                config.group.get()));
  std::vector<std::string> keep = config.keep_float;
  HQP_ASSIGN_OR_RETURN(auto built, build(keep));
  if (config.bias_correction) say(fmt::format("bias correction: {} layers", biases_corrected));
  HQP_ASSIGN_OR_RETURN(out.int8_val_top1,
                       val_top1(built.first, val, config.threads, cb, QuantizeProgress::Phase::kValidateInt8, {},
                                config.group.get()));
  out.all_int8_val_top1 = out.int8_val_top1;
  out.reference_val_top1 = config.reference_val_top1 >= 0.0 ? config.reference_val_top1 : out.float_val_top1;
  const auto drop_pp = [&](double top1) { return (out.reference_val_top1 - top1) * 100.0; };
  say(fmt::format("val top1 float {:.2f}%, int8 {:.2f}% (drop {:.2f} pp{})", 100.0 * out.float_val_top1,
                  100.0 * out.int8_val_top1, drop_pp(out.int8_val_top1),
                  config.reference_val_top1 >= 0.0 ? fmt::format(" from {:.2f}%", 100.0 * out.reference_val_top1) : ""));
  constexpr double kEps = 1e-9;
  const bool over = config.max_drop > 0.0 && drop_pp(out.int8_val_top1) > config.max_drop + kEps;
  if (over || config.sensitivity) {
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
                                                 fmt::format("{}/{} {}", i + 1, candidates.size(), candidates[i]),
                                                 config.group.get()));
      out.sensitivity.push_back({candidates[i], top1, (top1 - out.all_int8_val_top1) * 100.0});
    }
    std::stable_sort(out.sensitivity.begin(), out.sensitivity.end(),
                     [](const LayerSensitivity& a, const LayerSensitivity& b) { return a.gain_pp > b.gain_pp; });
    say(fmt::format("sensitivity of {} layers: most sensitive {} (+{:.2f} pp when float)", out.sensitivity.size(),
                    out.sensitivity.empty() ? std::string("-") : out.sensitivity.front().node,
                    out.sensitivity.empty() ? 0.0 : out.sensitivity.front().gain_pp));
    bool met = !over;
    for (const LayerSensitivity& s : out.sensitivity) {
      if (met) break;
      keep.push_back(s.node);
      HQP_ASSIGN_OR_RETURN(built, build(keep));
      HQP_ASSIGN_OR_RETURN(out.int8_val_top1, val_top1(built.first, val, config.threads, cb,
                                                        QuantizeProgress::Phase::kFallback, s.node,
                                                        config.group.get()));
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
  out.biases_corrected = biases_corrected;
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

}  // namespace hqp::quantizer
