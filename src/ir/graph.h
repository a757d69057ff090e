// The graph IR: Graph owns Nodes and Values; Values carry dtype, (symbolic) shape, constant data
// for initializers and optional quantization parameters. Structure and metadata only — nothing
// here computes tensor values. Only Graph creates and destroys nodes and values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/attrs.h"
#include "ir/op.h"

namespace hqp::ir {

// One dimension: static (a known integer), symbolic (named, e.g. "batch"), or unknown.
// Tensor dims are never negative; the s64 elements of shape tensors (Value::shape_value) use the
// same type and may be negative (Reshape's -1).
struct Dim {
  enum class Kind : uint8_t { kUnknown, kStatic, kSymbolic };
  Kind kind = Kind::kUnknown;
  int64_t value = 0;   // meaningful when kStatic
  std::string symbol;  // meaningful when kSymbolic

  static Dim fixed(int64_t v) { return Dim{Kind::kStatic, v, {}}; }
  static Dim symbolic(std::string s) { return Dim{Kind::kSymbolic, 0, std::move(s)}; }
  static Dim unknown() { return Dim{}; }
  bool is_static() const { return kind == Kind::kStatic; }
  bool is_symbolic() const { return kind == Kind::kSymbolic; }
  bool is_unknown() const { return kind == Kind::kUnknown; }
  bool operator==(const Dim&) const = default;
};
using Dims = std::vector<Dim>;

std::string dim_to_string(const Dim& d);     // "224", "batch", "?"
std::string dims_to_string(const Dims& ds);  // "[batch,3,224,224]"
Dims dims_from_shape(std::span<const int64_t> shape);
// Static shape of `ds`, or nullopt when any dim is symbolic or unknown.
std::optional<Shape> static_shape(const Dims& ds);

// Quantization parameters of a quantized tensor (QDQ): real = (q - zero_point) * scale.
// Per-tensor when axis is unset (one scale), per-axis otherwise (one scale per index of axis).
struct QuantParams {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  std::optional<int64_t> axis;
  DType storage = DType::kU8;
  bool operator==(const QuantParams&) const = default;
};

class Node;

struct Use {
  Node* node;
  int input_index;
  bool operator==(const Use&) const = default;
};

class Value {
 public:
  std::string name;
  DType dtype = DType::kUndefined;
  std::optional<Dims> shape;           // nullopt: rank unknown
  Tensor data;                         // defined for initializers (constant weights)
  std::optional<QuantParams> quant;    // set on quantized tensors of QDQ models
  // For small s64 shape tensors (Shape -> Gather -> Concat chains): their content as dims, filled
  // by shape inference so Reshape can resolve symbolic shapes without executing anything.
  std::optional<Dims> shape_value;
  bool initializer_listed_as_input = false;  // old ONNX files list initializers among graph inputs
  std::string doc_string;

  bool is_initializer() const { return data.defined() && producer_ == nullptr; }
  Node* producer() const { return producer_; }
  int producer_output_index() const { return producer_index_; }
  const std::vector<Use>& uses() const { return uses_; }

 private:
  friend class Graph;
  Node* producer_ = nullptr;
  int producer_index_ = -1;
  std::vector<Use> uses_;
};

class Node {
 public:
  std::string name;
  OpKind kind;
  Attrs attrs;
  std::string doc_string;

  // Input i, or nullptr when the (optional) input is absent or i is past the end.
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }

  template <typename A>
  const A& attr() const {
    const A* a = std::get_if<A>(&attrs);
    HQP_CHECK_MSG(a != nullptr, "node '" + name + "' holds another attribute struct");
    return *a;
  }
  template <typename A>
  A& attr() {
    A* a = std::get_if<A>(&attrs);
    HQP_CHECK_MSG(a != nullptr, "node '" + name + "' holds another attribute struct");
    return *a;
  }

 private:
  friend class Graph;
  Node(OpKind k) : kind(k) {}
  std::vector<Value*> inputs_;   // nullptr entries are absent optional inputs
  std::vector<Value*> outputs_;  // nullptr entries are absent optional outputs
};

// Model-level metadata kept for lossless export.
struct ModelInfo {
  int64_t ir_version = 8;
  std::vector<std::pair<std::string, int64_t>> opset_imports = {{"", 17}};
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc_string;
  std::string graph_name = "hqp";
  std::string graph_doc_string;
  std::vector<std::pair<std::string, std::string>> metadata_props;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;

  // Deep copy (tensor data is shared copy-on-nothing: initializer Tensors share storage; replace
  // a Value's data instead of writing into it when the original must stay intact).
  Graph clone() const;

  ModelInfo info;
  // Opset of the default ONNX domain.
  int64_t opset() const;

  // --- creation (names must be unique; callers check user-provided names with find_value) ---
  Value* add_value(std::string name);
  Value* add_input(std::string name, DType dtype, Dims shape);
  Value* add_initializer(std::string name, Tensor data);
  Node* add_node(OpKind kind, std::string name, std::vector<Value*> inputs, std::vector<Value*> outputs,
                 Attrs attrs);
  // Same, with default attributes for `kind`.
  Node* add_node(OpKind kind, std::string name, std::vector<Value*> inputs, std::vector<Value*> outputs);
  void add_output(Value* v) { outputs_.push_back(v); }

  // --- mutation ---
  void set_input(Node* node, size_t index, Value* v);  // v may be nullptr (absent optional input)
  void replace_all_uses(Value* from, Value* to);       // including graph outputs
  void remove_node(Node* node);                        // outputs stay, without producer
  void remove_value(Value* v);                         // v must be unused, unproduced, not an I/O
  void set_outputs(std::vector<Value*> outputs) { outputs_ = std::move(outputs); }
  void set_inputs(std::vector<Value*> inputs) { inputs_ = std::move(inputs); }
  // Removes nodes whose outputs reach no graph output, then values nothing uses or produces.
  void remove_dead_code();
  // A name not used by any value or node yet, derived from `base`.
  std::string unique_name(std::string_view base);

  // --- queries ---
  const std::vector<Value*>& inputs() const { return inputs_; }    // runtime inputs (no initializers)
  const std::vector<Value*>& outputs() const { return outputs_; }
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }
  std::vector<Value*> initializers() const;
  Value* find_value(std::string_view name) const;
  Node* find_node(std::string_view name) const;
  bool is_graph_input(const Value* v) const;
  bool is_graph_output(const Value* v) const;
  // Nodes in an order where producers precede consumers (stable w.r.t. insertion order);
  // kInvalidArgument naming a node on the cycle when the graph is cyclic.
  Result<std::vector<Node*>> topological_order() const;

 private:
  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  std::unordered_map<std::string, Value*> value_by_name_;
  uint64_t name_counter_ = 0;
};

}  // namespace hqp::ir
