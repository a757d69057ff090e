// `hqp convert IN.onnx OUT.onnx [--fold-constants]`: import, verify, (optionally fold), export.
#include <memory>

#include <fmt/format.h>

#include "print.h"
#include "commands.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "passes/fold_constants.h"

namespace hqp::cli {

namespace {

struct ConvertOptions {
  std::string in;
  std::string out;
  bool fold = false;
};

Status run_convert(const ConvertOptions& o) {
  HQP_ASSIGN_OR_RETURN(ir::Graph graph, onnx_io::import_model_file(o.in));
  if (o.fold) {
    HQP_ASSIGN_OR_RETURN(passes::FoldStats stats, passes::fold_constants(graph));
    cli::print("folded {} constant nodes\n", stats.folded_nodes);
  }
  HQP_RETURN_IF_ERROR(onnx_io::export_model_file(graph, o.out));
  cli::print("wrote {} ({} nodes, opset {})\n", o.out, graph.nodes().size(), graph.opset());
  return Status();
}

}  // namespace

Runner add_convert_command(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  CLI::App* sub = app.add_subcommand("convert", "Import, verify and re-export a model (checked by onnx::checker)");
  sub->add_option("input", o->in, "Input ONNX model")->required();
  sub->add_option("output", o->out, "Output ONNX model (written atomically)")->required();
  sub->add_flag("--fold-constants", o->fold, "Fold constant subgraphs (e.g. shape computations) into initializers");
  return [o] { return run_convert(*o); };
}

}  // namespace hqp::cli
