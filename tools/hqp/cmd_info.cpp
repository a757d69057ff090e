// `hqp info MODEL.onnx [--json] [--dump]`: inputs/outputs, op histogram, params, size, MACs and a
// per-layer table.
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "print.h"
#include "core/json_text.h"
#include "commands.h"
#include "ir/model_stats.h"
#include "ir/printer.h"
#include "onnx/import.h"

namespace hqp::cli {

namespace {

struct InfoOptions {
  std::string model;
  bool json = false;
  bool dump = false;
};

nlohmann::json value_json(const ir::Value& v) {
  nlohmann::json shape = nlohmann::json::array();
  if (v.shape) {
    for (const ir::Dim& d : *v.shape) {
      if (d.is_static()) shape.push_back(d.value);
      else if (d.is_symbolic()) shape.push_back(d.symbol);
      else shape.push_back(nullptr);
    }
  }
  return {{"name", v.name}, {"dtype", std::string(dtype_name(v.dtype))}, {"shape", shape}};
}

Status run_info(const InfoOptions& o) {
  HQP_ASSIGN_OR_RETURN(ir::Graph graph, onnx_io::import_model_file(o.model));
  const ir::ModelStats s = ir::compute_stats(graph);
  std::error_code ec;
  const auto size_bytes = static_cast<int64_t>(std::filesystem::file_size(o.model, ec));
  if (o.json) {
    nlohmann::json j;
    j["model"] = o.model;
    j["opset"] = graph.opset();
    j["inputs"] = nlohmann::json::array();
    for (const ir::Value* v : graph.inputs()) j["inputs"].push_back(value_json(*v));
    j["outputs"] = nlohmann::json::array();
    for (const ir::Value* v : graph.outputs()) j["outputs"].push_back(value_json(*v));
    j["nodes"] = s.nodes;
    j["op_counts"] = s.op_counts;
    j["params"] = s.params;
    j["size_bytes"] = size_bytes;
    j["macs"] = s.macs;
    j["layers"] = nlohmann::json::array();
    for (const ir::LayerStats& l : s.layers) {
      j["layers"].push_back(
          {{"name", l.name}, {"op", l.op}, {"output_shape", l.output_shape}, {"params", l.params}, {"macs", l.macs}});
    }
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : graph.info.metadata_props) meta[k] = v;
    j["metadata_props"] = meta;
    cli::print("{}\n", json_text(j, 2));
    return Status();
  }
  cli::print("model      {}\n", printable(o.model));
  cli::print("opset      {} (ir_version {}, producer '{}' {})\n", graph.opset(), graph.info.ir_version,
             printable(graph.info.producer_name), printable(graph.info.producer_version));
  for (const ir::Value* v : graph.inputs()) cli::print("input      {}: {}\n", printable(v->name), printable(ir::format_value_type(*v)));
  for (const ir::Value* v : graph.outputs()) cli::print("output     {}: {}\n", printable(v->name), printable(ir::format_value_type(*v)));
  cli::print("nodes      {}\n", s.nodes);
  std::string hist;
  for (const auto& [op, n] : s.op_counts) hist += fmt::format("{}{} {}", hist.empty() ? "" : ", ", op, n);
  cli::print("ops        {}\n", hist);
  cli::print("params     {} ({:.2f} M)\n", s.params, static_cast<double>(s.params) / 1e6);
  cli::print("size       {} bytes ({:.2f} MiB)\n", size_bytes, static_cast<double>(size_bytes) / (1 << 20));
  cli::print("macs       {} ({:.3f} G, batch 1)\n", s.macs, static_cast<double>(s.macs) / 1e9);
  for (const auto& [k, v] : graph.info.metadata_props) cli::print("metadata   {} = {}\n", printable(k), printable(v));
  cli::print("\n{:<48} {:<20} {:<22} {:>10} {:>14}\n", "layer", "op", "output", "params", "macs");
  for (const ir::LayerStats& l : s.layers) {
    cli::print("{:<48} {:<20} {:<22} {:>10} {:>14}\n", printable(l.name), l.op, printable(l.output_shape), l.params, l.macs);
  }
  if (o.dump) cli::print("\n{}", ir::dump(graph));
  return Status();
}

}  // namespace

Runner add_info_command(CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand("info", "Show a model's inputs, outputs, ops, parameters, size and MACs");
  sub->add_option("model", o->model, "ONNX model file")->required();
  sub->add_flag("--json", o->json, "Print JSON (keys: inputs, outputs, nodes, op_counts, params, size_bytes, macs, layers)");
  sub->add_flag("--dump", o->dump, "Also print the IR as text");
  return [o] { return run_info(*o); };
}

}  // namespace hqp::cli
