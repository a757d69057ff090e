// Post-training INT8 quantization under an accuracy bound -- what `hqp quantize` runs: calibrate
// activation statistics on real data through the fast runtime, choose ranges (quant/calibrators.h),
// write the QDQ graph (quant/insert_qdq.h) in ONNX Runtime's or TensorRT's placement, and measure
// the float and INT8 val top-1 on the fast runtime -- the INT8 number is the runtime's own INT8
// result, not a simulation. When the drop exceeds the bound, layers are ranked by sensitivity
// (the val top-1 regained when that layer alone stays float) and returned to float one at a time,
// most sensitive first, until the bound holds (accuracy-aware PTQ, as NNCF does it).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "data/batch_source.h"
#include "distributed/process_group.h"
#include "ir/graph.h"
#include "quant/calibrators.h"
#include "quant/insert_qdq.h"

namespace hqp::quantizer {

struct QuantizeConfig {
  quant::CalibratorOptions calibrator;  // method, percentile, activation scheme
  quant::QdqStyle style = quant::QdqStyle::kOrt;
  bool per_channel_weights = true;
  bool cle = false;             // cross-layer equalization (quant/cross_layer_equalization.h) first
  bool bias_correction = false; // empirical bias correction of every quantized layer (see below)
  int64_t calib_samples = 512;  // rows taken from the calibration source (its first batches), >= 1
  double max_drop = 0.0;        // val top-1 percentage points; <= 0: measure only, no search
  // The val top-1 (fraction) the bound is measured from; < 0: the float model's own. `hqp compress`
  // passes the unpruned original's, so that the bound holds against what the user started from.
  double reference_val_top1 = -1.0;
  bool sensitivity = false;     // rank every layer's sensitivity even when no search is needed (report)
  std::vector<std::string> keep_float;  // Conv / Gemm nodes the user keeps float from the start
  int threads = 1;              // fast-runtime threads
  // Data-parallel calibration (nullptr: one process): `calib` and `val` are this rank's shards
  // (data::LoaderOptions num_shards / shard) and calib_quota this rank's rows among the first
  // calib_samples rows of the whole calibration order (data::Loader::shard_rows_in_prefix), >= 1.
  // Ranges are min / max over every rank, histograms (over those ranges) and channel means
  // summed, val counts summed: every rank builds the same QDQ model and takes the same fallbacks.
  distributed::GroupPtr group;
  int64_t calib_quota = -1;
};

// The val top-1 with one layer kept float (all others quantized), and the gain over all quantized.
struct LayerSensitivity {
  std::string node;
  double val_top1 = 0.0;
  double gain_pp = 0.0;
};

struct QuantizeOutcome {
  ir::Graph model;  // the QDQ graph (BatchNorm folded, identities removed)
  double float_val_top1 = 0.0;
  double int8_val_top1 = 0.0;          // of `model`
  double all_int8_val_top1 = 0.0;      // with every quantizable layer quantized (before any fallback)
  std::vector<std::string> kept_float; // user's keep_float plus the layers the search returned to float
  std::vector<LayerSensitivity> sensitivity;  // empty unless the search ran; most sensitive first
  quant::QdqStats stats;
  int64_t calib_samples = 0;
  int64_t observed_tensors = 0;
  int cle_pairs = 0;                   // conv pairs equalized (cle)
  int biases_corrected = 0;            // layers whose bias was corrected (bias_correction)
  bool bound_met = true;               // false only when max_drop > 0 and no layer set met it
  double reference_val_top1 = 0.0;     // what the drop is measured from (float_val_top1 unless configured)
  double seconds = 0.0;
};

struct QuantizeProgress {
  enum class Phase : uint8_t { kCalibrate, kHistogram, kValidateFloat, kValidateInt8, kSensitivity, kFallback };
  Phase phase = Phase::kCalibrate;
  int64_t done = 0;
  int64_t total = 0;
  std::string detail;  // the layer of a sensitivity or fallback step
};
std::string_view phase_name(QuantizeProgress::Phase phase);

struct QuantizeCallbacks {
  std::function<void(const QuantizeProgress&)> progress;
  std::function<void(const std::string&)> message;  // one line per finished stage
};

// model: verified float classifier (first input f32 [N, C, H, W], first output logits [N, K]),
// opset >= 13. calib: calibration batches in eval mode (the first calib_samples rows are used,
// read twice when the calibrator needs a histogram); val: the val split in eval mode.
// Errors: kInvalidArgument (bad config, empty calibration source, a tensor without finite values),
// kUnsupported (a model the quantizer cannot take), and what the runtime reports. When the bound
// cannot be met even with every layer float, the outcome has bound_met = false (callers decide).
Result<QuantizeOutcome> quantize_model(const ir::Graph& model, data::BatchSource& calib, data::BatchSource& val,
                                       const QuantizeConfig& config, const QuantizeCallbacks& callbacks = {});

// Only the calibration step: activation statistics of the prepared graph `g` (quant::
// prepare_for_quantization) over the first `samples` rows of `calib`, through the fast runtime
// (unfused, every f32 tensor an extra output). `histogram`: run pass 2 too.
Result<quant::ActivationStatistics> collect_statistics(const ir::Graph& g, data::BatchSource& calib, int64_t samples,
                                                       bool histogram, int threads,
                                                       const QuantizeCallbacks& callbacks = {},
                                                       int64_t* samples_used = nullptr,
                                                       distributed::ProcessGroup* group = nullptr);

// Empirical bias correction (Nagel et al. 2019, section 4.2): for every node of `nodes` (Conv /
// Gemm of `prepared`, quantized in `qdq`, which was built from `prepared`), the mean output shift
// its weight quantization causes, (W - dequantized W) · E[x] per output channel with E[x] the
// per-channel mean of its float input over the first `samples` rows of `calib` (fast runtime,
// unfused), is added to its float bias in `prepared` (a Conv without bias gets one). Each layer is
// corrected for its own weights on float inputs, so corrections do not compound. Returns how many
// biases changed.
Result<int> correct_biases(ir::Graph& prepared, const ir::Graph& qdq, const std::vector<std::string>& nodes,
                           data::BatchSource& calib, int64_t samples, int threads);

// The two halves of correct_biases: per-channel means of the float inputs of `nodes` (keyed by value
// name; they depend only on `prepared`, so one measurement serves every layer set of a fallback
// search), and the correction from them. With a group: `calib` is this rank's shard, `samples`
// its quota, and the means are over every rank's rows.
using ChannelMeans = std::unordered_map<std::string, std::vector<double>>;
Result<ChannelMeans> input_channel_means(const ir::Graph& prepared, const std::vector<std::string>& nodes,
                                         data::BatchSource& calib, int64_t samples, int threads,
                                         distributed::ProcessGroup* group = nullptr);
Result<int> correct_biases(ir::Graph& prepared, const ir::Graph& qdq, const std::vector<std::string>& nodes,
                           const ChannelMeans& means);

}  // namespace hqp::quantizer
