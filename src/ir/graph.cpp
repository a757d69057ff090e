// Graph bookkeeping: ownership, use lists, topological order, cloning.
#include "ir/graph.h"

#include <algorithm>
#include <unordered_set>

namespace hqp::ir {

std::string dim_to_string(const Dim& d) {
  if (d.is_static()) return std::to_string(d.value);
  if (d.is_symbolic()) return d.symbol;
  return "?";
}

std::string dims_to_string(const Dims& ds) {
  std::string s = "[";
  for (size_t i = 0; i < ds.size(); ++i) {
    if (i) s += ',';
    s += dim_to_string(ds[i]);
  }
  return s + "]";
}

Dims dims_from_shape(std::span<const int64_t> shape) {
  Dims ds;
  ds.reserve(shape.size());
  for (int64_t v : shape) ds.push_back(Dim::fixed(v));
  return ds;
}

std::optional<Shape> static_shape(const Dims& ds) {
  Shape s;
  s.reserve(ds.size());
  for (const Dim& d : ds) {
    if (!d.is_static()) return std::nullopt;
    s.push_back(d.value);
  }
  return s;
}

int64_t Graph::opset() const {
  for (const auto& [domain, version] : info.opset_imports) {
    if (domain.empty() || domain == "ai.onnx") return version;
  }
  return 0;
}

Value* Graph::add_value(std::string name) {
  HQP_CHECK_MSG(!name.empty() && value_by_name_.find(name) == value_by_name_.end(),
                "duplicate or empty value name '" + name + "'");
  auto v = std::make_unique<Value>();
  v->name = std::move(name);
  Value* raw = v.get();
  value_by_name_.emplace(raw->name, raw);
  values_.push_back(std::move(v));
  return raw;
}

Value* Graph::add_input(std::string name, DType dtype, Dims shape) {
  Value* v = add_value(std::move(name));
  v->dtype = dtype;
  v->shape = std::move(shape);
  inputs_.push_back(v);
  return v;
}

Value* Graph::add_initializer(std::string name, Tensor data) {
  Value* v = add_value(std::move(name));
  v->dtype = data.dtype();
  v->shape = dims_from_shape(data.shape());
  v->data = std::move(data);
  return v;
}

Node* Graph::add_node(OpKind kind, std::string name, std::vector<Value*> inputs, std::vector<Value*> outputs,
                      Attrs attrs) {
  HQP_CHECK_MSG(attrs_match_kind(kind, attrs), "attribute struct does not match op " + std::string(op_name(kind)));
  std::unique_ptr<Node> node(new Node(kind));
  node->name = std::move(name);
  node->attrs = std::move(attrs);
  Node* raw = node.get();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] != nullptr) inputs[i]->uses_.push_back(Use{raw, static_cast<int>(i)});
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i] == nullptr) continue;
    HQP_CHECK_MSG(outputs[i]->producer_ == nullptr, "value '" + outputs[i]->name + "' already has a producer");
    outputs[i]->producer_ = raw;
    outputs[i]->producer_index_ = static_cast<int>(i);
  }
  node->inputs_ = std::move(inputs);
  node->outputs_ = std::move(outputs);
  nodes_.push_back(std::move(node));
  return raw;
}

Node* Graph::add_node(OpKind kind, std::string name, std::vector<Value*> inputs, std::vector<Value*> outputs) {
  return add_node(kind, std::move(name), std::move(inputs), std::move(outputs), default_attrs(kind));
}

void Graph::set_input(Node* node, size_t index, Value* v) {
  if (index >= node->inputs_.size()) node->inputs_.resize(index + 1, nullptr);
  Value* old = node->inputs_[index];
  if (old != nullptr) {
    auto& uses = old->uses_;
    auto it = std::find(uses.begin(), uses.end(), Use{node, static_cast<int>(index)});
    HQP_CHECK(it != uses.end());
    uses.erase(it);
  }
  node->inputs_[index] = v;
  if (v != nullptr) v->uses_.push_back(Use{node, static_cast<int>(index)});
}

void Graph::replace_all_uses(Value* from, Value* to) {
  std::vector<Use> uses = from->uses_;
  for (const Use& u : uses) set_input(u.node, static_cast<size_t>(u.input_index), to);
  for (Value*& out : outputs_) {
    if (out == from) out = to;
  }
}

void Graph::remove_node(Node* node) {
  for (size_t i = 0; i < node->inputs_.size(); ++i) {
    if (node->inputs_[i] != nullptr) set_input(node, i, nullptr);
  }
  for (Value* out : node->outputs_) {
    if (out != nullptr && out->producer_ == node) {
      out->producer_ = nullptr;
      out->producer_index_ = -1;
    }
  }
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& n) { return n.get() == node; });
  HQP_CHECK(it != nodes_.end());
  nodes_.erase(it);
}

void Graph::remove_value(Value* v) {
  HQP_CHECK_MSG(v->uses_.empty() && v->producer_ == nullptr && !is_graph_input(v) && !is_graph_output(v),
                "value '" + v->name + "' is still connected");
  value_by_name_.erase(v->name);
  auto it = std::find_if(values_.begin(), values_.end(), [&](const auto& p) { return p.get() == v; });
  HQP_CHECK(it != values_.end());
  values_.erase(it);
}

void Graph::remove_dead_code() {
  // Mark nodes reachable backwards from the graph outputs.
  std::unordered_set<const Node*> live;
  std::vector<const Value*> stack(outputs_.begin(), outputs_.end());
  while (!stack.empty()) {
    const Value* v = stack.back();
    stack.pop_back();
    if (v == nullptr || v->producer_ == nullptr || !live.insert(v->producer_).second) continue;
    for (const Value* in : v->producer_->inputs_) stack.push_back(in);
  }
  std::vector<Node*> dead;
  for (const auto& n : nodes_) {
    if (live.count(n.get()) == 0) dead.push_back(n.get());
  }
  for (Node* n : dead) remove_node(n);
  std::vector<Value*> unused;
  for (const auto& v : values_) {
    if (v->uses_.empty() && v->producer_ == nullptr && !is_graph_input(v.get()) && !is_graph_output(v.get())) {
      unused.push_back(v.get());
    }
  }
  for (Value* v : unused) remove_value(v);
}

std::string Graph::unique_name(std::string_view base) {
  std::string candidate(base);
  while (value_by_name_.count(candidate) != 0 || find_node(candidate) != nullptr) {
    candidate = std::string(base) + "_" + std::to_string(++name_counter_);
  }
  return candidate;
}

std::vector<Value*> Graph::initializers() const {
  std::vector<Value*> out;
  for (const auto& v : values_) {
    if (v->is_initializer()) out.push_back(v.get());
  }
  return out;
}

Value* Graph::find_value(std::string_view name) const {
  auto it = value_by_name_.find(std::string(name));
  return it == value_by_name_.end() ? nullptr : it->second;
}

Node* Graph::find_node(std::string_view name) const {
  for (const auto& n : nodes_) {
    if (n->name == name) return n.get();
  }
  return nullptr;
}

bool Graph::is_graph_input(const Value* v) const {
  return std::find(inputs_.begin(), inputs_.end(), v) != inputs_.end();
}

bool Graph::is_graph_output(const Value* v) const {
  return std::find(outputs_.begin(), outputs_.end(), v) != outputs_.end();
}

Result<std::vector<Node*>> Graph::topological_order() const {
  // Kahn's algorithm over producer edges; ready nodes are taken in insertion order.
  std::unordered_map<const Node*, size_t> index;
  for (size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].get()] = i;
  std::vector<int> pending(nodes_.size(), 0);
  std::vector<std::vector<size_t>> consumers(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (const Value* in : nodes_[i]->inputs_) {
      if (in == nullptr || in->producer_ == nullptr) continue;
      auto it = index.find(in->producer_);
      if (it == index.end()) continue;
      ++pending[i];
      consumers[it->second].push_back(i);
    }
  }
  std::vector<Node*> order;
  order.reserve(nodes_.size());
  std::vector<size_t> ready;
  for (size_t i = nodes_.size(); i-- > 0;) {
    if (pending[i] == 0) ready.push_back(i);
  }
  // `ready` is a stack kept in descending index order so the smallest index pops first.
  while (!ready.empty()) {
    size_t i = ready.back();
    ready.pop_back();
    order.push_back(nodes_[i].get());
    for (size_t c : consumers[i]) {
      if (--pending[c] == 0) {
        auto pos = std::upper_bound(ready.begin(), ready.end(), c, std::greater<size_t>());
        ready.insert(pos, c);
      }
    }
  }
  if (order.size() != nodes_.size()) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (pending[i] > 0) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot order graph '{}': it contains a cycle through node '{}' ({})", info.graph_name,
                          nodes_[i]->name, op_name(nodes_[i]->kind));
      }
    }
  }
  return order;
}

Graph Graph::clone() const {
  Graph g;
  g.info = info;
  g.name_counter_ = name_counter_;
  std::unordered_map<const Value*, Value*> map;
  for (const auto& v : values_) {
    Value* c = g.add_value(v->name);
    c->dtype = v->dtype;
    c->shape = v->shape;
    c->data = v->data;
    c->quant = v->quant;
    c->shape_value = v->shape_value;
    c->initializer_listed_as_input = v->initializer_listed_as_input;
    c->doc_string = v->doc_string;
    map[v.get()] = c;
  }
  auto mapped = [&](const std::vector<Value*>& vs) {
    std::vector<Value*> out;
    out.reserve(vs.size());
    for (const Value* v : vs) out.push_back(v == nullptr ? nullptr : map.at(v));
    return out;
  };
  for (const auto& n : nodes_) {
    Node* c = g.add_node(n->kind, n->name, mapped(n->inputs_), mapped(n->outputs_), n->attrs);
    c->doc_string = n->doc_string;
  }
  g.inputs_ = mapped(inputs_);
  g.outputs_ = mapped(outputs_);
  return g;
}

}  // namespace hqp::ir
