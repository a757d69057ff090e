// optimize_for_runtime: runs the graph passes in order and reports what each did.
#include "passes/pipeline.h"

#include <fmt/format.h>

#include "passes/fold_batchnorm.h"
#include "passes/fold_constants.h"
#include "passes/fold_pad.h"
#include "passes/fuse_gelu.h"
#include "passes/fuse_matmul_bias.h"
#include "passes/fuse_layer_norm.h"
#include "passes/fuse_conv_activation.h"
#include "passes/fuse_residual_add.h"
#include "passes/lower_qdq.h"
#include "passes/remove_identity.h"
#include "passes/skip_output_requantize.h"

namespace hqp::passes {

std::string OptimizeReport::to_string() const {
  std::string s = fmt::format("nodes before: {}\n", nodes_before);
  for (const PassReport& p : passes) s += fmt::format("{}: {} rewrites, {} nodes\n", p.pass, p.rewrites, p.nodes_after);
  return s + fmt::format("nodes after: {}\n", nodes_after);
}

Result<OptimizeReport> optimize_for_runtime(ir::Graph& graph, const OptimizeOptions& options) {
  OptimizeReport report;
  report.nodes_before = graph.nodes().size();
  auto record = [&](const char* name, int rewrites) {
    report.passes.push_back(PassReport{name, rewrites, graph.nodes().size()});
  };
  if (options.remove_identity) {
    HQP_ASSIGN_OR_RETURN(RemoveIdentityStats s, remove_identity(graph));
    record("remove_identity", s.removed);
  }
  if (options.fold_pad) {
    HQP_ASSIGN_OR_RETURN(FoldPadStats s, fold_pad(graph));
    record("fold_pad", s.removed + s.into_conv + s.into_avg_pool);
  }
  if (options.fuse_layer_norm) {
    HQP_ASSIGN_OR_RETURN(FuseLayerNormStats s, fuse_layer_norm(graph));
    record("fuse_layer_norm", s.fused);
  }
  if (options.fuse_gelu) {
    HQP_ASSIGN_OR_RETURN(FuseGeluStats s, fuse_gelu(graph));
    record("fuse_gelu", s.fused);
  }
  if (options.fold_batchnorm) {
    HQP_ASSIGN_OR_RETURN(FoldBatchNormStats s, fold_batchnorm(graph));
    record("fold_batchnorm", s.folded_into_conv + s.folded_into_gemm);
  }
  if (options.fuse_matmul_bias) {
    HQP_ASSIGN_OR_RETURN(FuseMatMulBiasStats s, fuse_matmul_bias(graph));
    record("fuse_matmul_bias", s.fused);
  }
  if (options.skip_output_requantize) {
    HQP_ASSIGN_OR_RETURN(SkipRequantizeStats s, skip_output_requantize(graph));
    record("skip_output_requantize", s.residual + s.activation);
  }
  if (options.fuse_activations) {
    HQP_ASSIGN_OR_RETURN(FuseActivationStats s, fuse_conv_activation(graph));
    record("fuse_conv_activation", s.fused_conv + s.fused_gemm);
  }
  if (options.fuse_residual) {
    HQP_ASSIGN_OR_RETURN(FuseResidualStats s, fuse_residual_add(graph));
    record("fuse_residual_add", s.fused);
  }
  if (options.lower_qdq) {
    HQP_ASSIGN_OR_RETURN(LowerQdqStats s, lower_qdq(graph));
    record("lower_qdq", s.qconv + s.qgemm + s.quantized_moves + s.round_trips + s.qadd + s.qmul + s.qlut +
                                 s.qglobal_average_pool + s.qconcat);
  }
  if (options.fold_constants) {
    HQP_ASSIGN_OR_RETURN(FoldStats s, fold_constants(graph));
    record("fold_constants", s.folded_nodes);
  }
  report.nodes_after = graph.nodes().size();
  return report;
}

}  // namespace hqp::passes
