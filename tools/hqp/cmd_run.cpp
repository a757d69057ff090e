// `hqp run MODEL.onnx -i input_0.pb [-i ...] -o OUTDIR`: runs the model on serialized
// onnx.TensorProto inputs and writes OUTDIR/output_K.pb in graph-output order.
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "print.h"
#include "commands.h"
#include "eval/engine.h"
#include "onnx/export.h"
#include "onnx/import.h"

namespace hqp::cli {

namespace {

struct RunCliOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::string out_dir;
  std::string engine = "fast";
  int threads = 1;
  bool verbose = false;
};

Status run_run(const RunCliOptions& o) {
  HQP_ASSIGN_OR_RETURN(ir::Graph graph, onnx_io::import_model_file(o.model));
  std::vector<Tensor> inputs;
  for (const std::string& path : o.inputs) {
    HQP_ASSIGN_OR_RETURN(Tensor t, onnx_io::read_tensor_file(path));
    inputs.push_back(std::move(t));
  }
  eval::EngineOptions eo;
  eo.kind = *eval::engine_from_name(o.engine);
  eo.threads = o.threads;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> engine, eval::InferenceEngine::create(graph, eo));
  HQP_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, engine->run(inputs));
  if (o.verbose && engine->session() != nullptr) {
    for (const NodePlanInfo& n : engine->session()->plan_info()) {
      cli::print_to(stderr, "{:<44} {:<18} -> {}\n", n.node, n.op, n.implementation);
      for (const std::string& r : n.rejected) cli::print_to(stderr, "{:<44}    not {}\n", "", r);
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) {
    return make_error(StatusCode::kIoError, "cannot create output directory '{}': {}", o.out_dir, ec.message());
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const std::string path = (std::filesystem::path(o.out_dir) / fmt::format("output_{}.pb", k)).string();
    HQP_RETURN_IF_ERROR(onnx_io::write_tensor_file(outputs[k], graph.outputs()[k]->name, path));
    cli::print("{}: {} {} -> {}\n", graph.outputs()[k]->name, dtype_name(outputs[k].dtype()),
               shape_to_string(outputs[k].shape()), path);
  }
  return Status();
}

}  // namespace

Runner add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunCliOptions>();
  CLI::App* sub = app.add_subcommand("run", "Run a model on TensorProto (.pb) inputs and write its outputs");
  sub->add_option("model", o->model, "ONNX model file")->required();
  sub->add_option("-i,--input", o->inputs, "Input tensor file (onnx.TensorProto), in graph-input order")->required();
  sub->add_option("-o,--out-dir", o->out_dir, "Directory for output_K.pb files (created if missing)")->required();
  sub->add_option("--engine", o->engine, "fast (oneDNN runtime), ref (reference executor) or torch (libtorch)")
      ->check(CLI::IsMember({"fast", "ref", "torch"}))
      ->capture_default_str();
  sub->add_option("--threads", o->threads, "Threads of the fast engine")->check(CLI::Range(1, 256))->capture_default_str();
  sub->add_flag("--verbose", o->verbose, "Show which kernel runs each node (fast engine), on stderr");
  return [o] { return run_run(*o); };
}

}  // namespace hqp::cli
