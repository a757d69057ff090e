// `hqp bench MODEL.onnx [--threads N] [--batch B] [--shape 1x3x224x224] [--runs R] [--warmup W]
// [--engine fast|ref|torch] [-i FILE.pb] [--json] [--profile] [--verbose]`: latency statistics of
// an engine on one input (random unless -i is given). Timing is eval::measure_latency; plan,
// profile and memory lines come from the fast engine's Session.
#include <memory>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "print.h"
#include "core/json_text.h"
#include "commands.h"
#include "eval/engine.h"
#include "eval/latency.h"
#include "core/process_memory.h"
#include "onnx/import.h"

namespace hqp::cli {

namespace {

struct BenchOptions {
  std::string model;
  int threads = 1;
  int64_t batch = 0;
  std::string shape;
  int runs = 50;
  int warmup = 5;
  std::string engine = "fast";
  std::string input;
  bool json = false;
  bool profile = false;
  bool verbose = false;
  bool fuse_requantize = false;
  bool fixed_threads = false;
  bool first_kernels = false;
  std::string f32_layout = "auto";
};

Result<Shape> parse_shape(const std::string& text) {
  Shape s;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t x = text.find('x', pos);
    const std::string part = text.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    try {
      size_t used = 0;
      const long long v = std::stoll(part, &used);
      if (used != part.size() || v <= 0) throw std::invalid_argument(part);
      s.push_back(v);
    } catch (const std::exception&) {
      return make_error(StatusCode::kInvalidArgument, "cannot parse --shape '{}': '{}' is not a positive integer",
                        text, part);
    }
    if (x == std::string::npos) break;
    pos = x + 1;
  }
  return s;
}

Result<Tensor> make_input(const ir::Value& v, const BenchOptions& o) {
  if (!o.input.empty()) return onnx_io::read_tensor_file(o.input);
  Shape shape;
  if (!o.shape.empty()) {
    HQP_ASSIGN_OR_RETURN(shape, parse_shape(o.shape));
  } else {
    if (!v.shape) {
      return make_error(StatusCode::kInvalidArgument, "cannot bench: input '{}' has unknown rank (give --shape)",
                        v.name);
    }
    for (size_t i = 0; i < v.shape->size(); ++i) {
      const ir::Dim& d = (*v.shape)[i];
      if (d.is_static()) {
        shape.push_back(d.value);
      } else if (i == 0) {
        shape.push_back(o.batch > 0 ? o.batch : 1);
      } else {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot bench: dim {} of input '{}' is dynamic ({}); give --shape", i, v.name,
                          ir::dims_to_string(*v.shape));
      }
    }
  }
  if (o.batch > 0 && !shape.empty()) shape[0] = o.batch;
  HQP_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(v.dtype, shape));
  std::mt19937 rng(42);
  if (v.dtype == DType::kF32) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (float& x : t.span<float>()) x = dist(rng);
  } else if (v.dtype == DType::kU8) {
    for (uint8_t& x : t.span<uint8_t>()) x = static_cast<uint8_t>(rng() & 0xff);
  } else {
    return make_error(StatusCode::kUnsupported, "cannot bench: random inputs of dtype {} (give -i)",
                      dtype_name(v.dtype));
  }
  return t;
}

Status run_bench(const BenchOptions& o) {
  if (o.threads <= 0) {
    return make_error(StatusCode::kInvalidArgument, "cannot bench: --threads {} (expected >= 1)", o.threads);
  }
  if (o.threads > kMaxSessionThreads) {
    return make_error(StatusCode::kInvalidArgument, "cannot bench: --threads {} (expected at most {})", o.threads,
                      kMaxSessionThreads);
  }
  if (o.runs <= 0 || o.warmup < 0) {
    return make_error(StatusCode::kInvalidArgument, "cannot bench: --runs {} --warmup {} (expected runs >= 1, warmup >= 0)",
                      o.runs, o.warmup);
  }
  if ((o.profile || o.verbose) && o.engine != "fast") {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot bench: --profile and --verbose show the fast runtime's plan (engine={}, expected fast)",
                      o.engine);
  }
  const ResidentMemory resident_before = resident_memory();
  std::unique_ptr<eval::InferenceEngine> engine;
  Tensor input;
  {
    // The imported graph lives only until the engine is built: the engine keeps what it needs
    // (the fast runtime its prepacked weights), so resident memory below is the engine's.
    HQP_ASSIGN_OR_RETURN(ir::Graph graph, onnx_io::import_model_file(o.model));
    if (graph.inputs().size() != 1) {
      return make_error(StatusCode::kUnsupported, "cannot bench: the model has {} inputs (expected 1)",
                        graph.inputs().size());
    }
    HQP_ASSIGN_OR_RETURN(input, make_input(*graph.inputs()[0], o));
    eval::EngineOptions eo;
    eo.kind = *eval::engine_from_name(o.engine);
    eo.threads = o.threads;
    eo.profile = o.profile;
    eo.fuse_requantize = o.fuse_requantize;
    eo.tune_threads = !o.fixed_threads;
    eo.adapt_threads = !o.fixed_threads;
    eo.tune_kernels = !o.first_kernels;
    eo.f32_layout = *f32_layout_from_name(o.f32_layout);
    HQP_ASSIGN_OR_RETURN(engine, eval::InferenceEngine::create(graph, eo));
  }
  const std::vector<Tensor> inputs = {input};
  HQP_ASSIGN_OR_RETURN(const metrics::LatencyStats stats, eval::measure_latency(*engine, inputs, o.warmup, o.runs));
  release_free_memory();
  // Growth of the private resident memory from before the import to after the timed runs: the
  // engine's weights, activations, JIT code and scratch, thread stacks. Pages of shared-library
  // code faulted in meanwhile are reported apart (file-backed, shared with other processes).
  const ResidentMemory resident_after = resident_memory();
  const int64_t resident_model =
      resident_before.anonymous >= 0 ? resident_after.anonymous - resident_before.anonymous : -1;
  const int64_t resident_code = resident_before.file >= 0 ? resident_after.file - resident_before.file : -1;
  const double median = stats.median_ms, min = stats.min_ms, p90 = stats.p90_ms;
  const double throughput = static_cast<double>(input.dim(0)) * 1000.0 / median;
  Session* session = engine->session();  // fast engine only: plan, profile and memory
  if (o.verbose && session != nullptr) {
    if (!session->optimize_report().empty()) cli::print("passes:\n{}\n", session->optimize_report());
    for (const NodePlanInfo& n : session->plan_info()) {
      cli::print("{:<44} {:<18} -> {}\n", n.node, n.op, n.implementation);
      for (const std::string& r : n.rejected) cli::print("{:<44}    not {}\n", "", r);
    }
  }
  nlohmann::json j;
  j["model"] = o.model;
  j["engine"] = o.engine;
  j["threads"] = o.threads;
  j["input_shape"] = input.shape();
  j["runs"] = o.runs;
  j["median_ms"] = median;
  j["min_ms"] = min;
  j["p90_ms"] = p90;
  j["mean_ms"] = stats.mean_ms;
  j["throughput_per_s"] = throughput;
  if (session != nullptr) {
    j["peak_bytes"] = session->peak_activation_bytes();
    j["naive_activation_bytes"] = session->naive_activation_bytes();
    j["weight_bytes"] = session->weight_bytes();
    j["plan_threads"] = session->plan_threads();
    j["thread_switches"] = session->thread_switches();
  }
  j["resident_growth_bytes"] = resident_model;
  j["resident_library_growth_bytes"] = resident_code;
  if (o.profile && session != nullptr) {
    j["profile"] = nlohmann::json::array();
    for (const StepProfile& p : session->profile()) {
      const double per_run = p.runs ? p.total_ms / static_cast<double>(p.runs) : 0.0;
      const double gops = per_run > 0 && p.macs > 0 ? 2.0 * static_cast<double>(p.macs) / (per_run * 1e6) : 0.0;
      j["profile"].push_back({{"node", p.node}, {"op", p.op}, {"implementation", p.implementation},
                              {"ms", per_run}, {"macs", p.macs}, {"gops", gops}});
    }
  }
  if (o.json) {
    cli::print("{}\n", json_text(j, 2));
    return Status();
  }
  cli::print("model       {} ({} engine, {} threads{}, input {})\n", o.model, o.engine, o.threads,
             session != nullptr && session->plan_threads() != o.threads
                 ? fmt::format(" (the plan runs on {}: faster for this model, see SessionOptions::tune_threads)",
                               session->plan_threads())
                 : std::string(),
             shape_to_string(input.shape()));
  cli::print("latency     median {:.3f} ms, min {:.3f} ms, p90 {:.3f} ms ({} runs)\n", median, min, p90, o.runs);
  cli::print("throughput  {:.1f} samples/s\n", throughput);
  if (session != nullptr && session->thread_switches() > 0) {
    cli::print("threads     {} switch(es) between the {}-thread plan and its alternative on one thread fewer (another "
               "process slowed the threads down; see SessionOptions::adapt_threads)\n",
               session->thread_switches(), o.threads);
  }
  if (session != nullptr) {
    cli::print("memory      activations {} bytes peak ({} without sharing), weights {} bytes\n",
               session->peak_activation_bytes(), session->naive_activation_bytes(), session->weight_bytes());
  }
  if (resident_model >= 0) {
    cli::print("resident    +{} bytes private memory after load and runs (+{} bytes of library code)\n",
               resident_model, resident_code);
  }
  if (o.profile && session != nullptr) {
    cli::print("\n{:<44} {:<12} {:>9} {:>9}  {}\n", "node", "op", "ms", "GOP/s", "implementation");
    for (const auto& p : j["profile"]) {
      cli::print("{:<44} {:<12} {:>9.3f} {:>9.1f}  {}\n", p["node"].get<std::string>(), p["op"].get<std::string>(),
                 p["ms"].get<double>(), p["gops"].get<double>(), p["implementation"].get<std::string>());
    }
  }
  return Status();
}

}  // namespace

Runner add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand("bench", "Measure inference latency and throughput of the runtime");
  sub->add_option("model", o->model, "ONNX model (float or QDQ INT8)")->required();
  sub->add_option("--threads", o->threads, "Threads of the engine")->check(CLI::Range(1, 256))->capture_default_str();
  sub->add_option("--batch", o->batch, "Batch size (first dim)")->check(CLI::Range(int64_t{1}, int64_t{65536}));
  sub->add_option("--shape", o->shape, "Input shape, e.g. 1x3x224x224 (for dynamic dims)");
  sub->add_option("--runs", o->runs, "Timed runs")->check(CLI::Range(1, 1000000))->capture_default_str();
  sub->add_option("--warmup", o->warmup, "Untimed warm-up runs")->check(CLI::Range(0, 1000000))->capture_default_str();
  sub->add_option("--engine", o->engine,
                  "fast (hqp::Session, oneDNN), ref (reference executor, un-optimized graph) or torch (libtorch)")
      ->check(CLI::IsMember({"fast", "ref", "torch"}))
      ->capture_default_str();
  sub->add_option("-i,--input", o->input, "Input tensor file (onnx.TensorProto) instead of random data");
  sub->add_flag("--json", o->json, "Print JSON (median_ms, min_ms, p90_ms, throughput_per_s, peak_bytes, ...)");
  sub->add_flag("--profile", o->profile, "Time every node and report GOP/s");
  sub->add_flag("--verbose", o->verbose, "Show the passes and which kernel runs each node (and why not others)");
  sub->add_flag("--fixed-threads", o->fixed_threads,
                "Run on exactly --threads (default: a small model's plan may run on one thread when that is faster, and any "
                "plan switches to one thread while another process slows its threads down)");
  sub->add_flag("--first-kernels", o->first_kernels,
                "INT8 convolutions on oneDNN's first-choice implementation (default: the fastest of its first few, "
                "timed at plan time; the results are the same)");
  sub->add_option("--f32-layout", o->f32_layout,
                  "Activation layout of FP32 convolution chains: nchw8c (blocked by 8 channels), nhwc, or auto (nchw8c "
                  "on CPUs whose best ISA is AVX2, nhwc elsewhere)")
      ->check(CLI::IsMember({"auto", "nhwc", "nchw8c"}))
      ->capture_default_str();
  sub->add_flag("--fuse-requantize", o->fuse_requantize,
                "QDQ in ONNX Runtime's placement: skip the conv-output requantization before residual Adds and float "
                "activations, as TensorRT does (faster; not the file's exact QDQ semantics)");
  return [o] { return run_bench(*o); };
}

}  // namespace hqp::cli
