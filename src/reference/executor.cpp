// Reference executor: input validation, topological execution, liveness-based freeing, observers.
#include "reference/executor.h"

#include <cmath>
#include <cstdint>
#include <unordered_map>

namespace hqp::reference {

namespace {

// Index of the first NaN or ±Inf in `t` (f32), or -1. Exponent bits all ones, tested without a
// branch per element so the scan vectorizes.
int64_t first_non_finite(const Tensor& t) {
  const auto* bits = static_cast<const uint32_t*>(t.raw_data());
  const int64_t n = t.numel();
  uint32_t any = 0;
  for (int64_t i = 0; i < n; ++i) any |= static_cast<uint32_t>((bits[i] & 0x7F800000u) == 0x7F800000u);
  if (any == 0) return -1;
  for (int64_t i = 0; i < n; ++i) {
    if ((bits[i] & 0x7F800000u) == 0x7F800000u) return i;
  }
  return -1;
}

// The first f32 input holding NaN / ±Inf as an error; name_of(i) names input i (called only then,
// so the per-run check copies no names).
template <typename NameOf>
Status check_finite(std::span<const Tensor> inputs, const NameOf& name_of) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dtype() != DType::kF32) continue;
    if (const int64_t at = first_non_finite(inputs[i]); at >= 0) {
      const float v = static_cast<const float*>(inputs[i].raw_data())[at];
      return make_error(StatusCode::kInvalidArgument,
                        "cannot run model: input '{}' holds {} at element {} (hqp runs finite inputs only)",
                        name_of(i), std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf"), at);
    }
  }
  return Status();
}

}  // namespace

Status check_run_inputs(const ir::Graph& graph, std::span<const Tensor> inputs, bool allow_non_finite) {
  const auto& decl = graph.inputs();
  if (inputs.size() != decl.size()) {
    std::string names;
    for (const ir::Value* v : decl) names += (names.empty() ? "" : ", ") + v->name;
    return make_error(StatusCode::kInvalidArgument, "cannot run model: got {} inputs (expected {}: {})", inputs.size(),
                      decl.size(), names);
  }
  std::unordered_map<std::string, int64_t> symbols;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ir::Value& v = *decl[i];
    const Tensor& t = inputs[i];
    if (t.dtype() != v.dtype) {
      return make_error(StatusCode::kInvalidArgument, "cannot run model: input '{}' has dtype {} (expected {})",
                        v.name, dtype_name(t.dtype()), dtype_name(v.dtype));
    }
    if (!v.shape) continue;
    const ir::Dims& d = *v.shape;
    if (static_cast<size_t>(t.rank()) != d.size()) {
      return make_error(StatusCode::kInvalidArgument, "cannot run model: input '{}' has shape {} (expected {})", v.name,
                        shape_to_string(t.shape()), ir::dims_to_string(d));
    }
    for (size_t k = 0; k < d.size(); ++k) {
      const int64_t got = t.dim(static_cast<int64_t>(k));
      if (d[k].is_static() && d[k].value != got) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot run model: input '{}' has shape {} (expected {}; dim {} must be {})", v.name,
                          shape_to_string(t.shape()), ir::dims_to_string(d), k, d[k].value);
      }
      if (d[k].is_symbolic()) {
        auto [it, inserted] = symbols.emplace(d[k].symbol, got);
        if (!inserted && it->second != got) {
          return make_error(StatusCode::kInvalidArgument,
                            "cannot run model: input '{}' gives dim '{}' = {} but an earlier input gave {}", v.name,
                            d[k].symbol, got, it->second);
        }
      }
    }
  }
  if (!allow_non_finite) return check_finite(inputs, [&](size_t i) -> const std::string& { return decl[i]->name; });
  return Status();
}

Status check_finite_inputs(std::span<const std::string> names, std::span<const Tensor> inputs) {
  return check_finite(inputs, [&](size_t i) { return i < names.size() ? names[i] : std::string("?"); });
}


Result<std::vector<Tensor>> run_reference(const ir::Graph& graph, std::span<const Tensor> inputs,
                                          const RunOptions& options) {
  HQP_RETURN_IF_ERROR(check_run_inputs(graph, inputs, options.allow_non_finite));
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, graph.topological_order());

  // Last step at which each produced value is read; graph outputs live to the end.
  std::unordered_map<const ir::Value*, size_t> last_use;
  for (size_t step = 0; step < order.size(); ++step) {
    for (const ir::Value* in : order[step]->inputs()) {
      if (in != nullptr) last_use[in] = step;
    }
  }
  for (const ir::Value* out : graph.outputs()) last_use[out] = order.size();

  std::unordered_map<const ir::Value*, Tensor> env;
  for (size_t i = 0; i < inputs.size(); ++i) env[graph.inputs()[i]] = inputs[i];
  for (const ir::Value* v : graph.initializers()) env[v] = v->data;

  const int64_t opset = graph.opset();
  std::vector<const Tensor*> args;
  for (size_t step = 0; step < order.size(); ++step) {
    const ir::Node& node = *order[step];
    args.assign(node.num_inputs(), nullptr);
    for (size_t i = 0; i < node.num_inputs(); ++i) {
      const ir::Value* in = node.input(i);
      if (in == nullptr) continue;
      auto it = env.find(in);
      if (it == env.end()) {
        return make_error(StatusCode::kInternal, "cannot run node '{}': input '{}' has not been computed", node.name,
                          in->name);
      }
      args[i] = &it->second;
    }
    HQP_ASSIGN_OR_RETURN(std::vector<Tensor> outs, run_node_reference(node, args, opset));
    for (size_t i = 0; i < node.num_outputs(); ++i) {
      const ir::Value* v = node.output(i);
      if (v == nullptr) continue;
      if (options.observer != nullptr) options.observer->on_output(node, *v, outs[i]);
      if (last_use.count(v) != 0) env[v] = std::move(outs[i]);
    }
    // Free values whose last reader was this node (never graph inputs' caller-owned storage
    // beyond our handle, and never initializers' shared data).
    for (const ir::Value* in : node.inputs()) {
      if (in == nullptr) continue;
      auto lu = last_use.find(in);
      if (lu != last_use.end() && lu->second == step && !in->is_initializer()) env.erase(in);
    }
  }

  std::vector<Tensor> results;
  results.reserve(graph.outputs().size());
  for (const ir::Value* out : graph.outputs()) {
    auto it = env.find(out);
    if (it == env.end()) {
      return make_error(StatusCode::kInternal, "cannot run model: output '{}' was not computed", out->name);
    }
    results.push_back(it->second);
  }
  return results;
}

}  // namespace hqp::reference
