// hqp.* metadata find/set and model value shapes.
#include "modeldata/metadata.h"

namespace hqp::modeldata {

std::optional<std::string> find_metadata(const ir::Graph& graph, std::string_view key) {
  for (const auto& [k, v] : graph.info.metadata_props) {
    if (k == key) return v;
  }
  return std::nullopt;
}

void set_metadata(ir::Graph& graph, std::string_view key, std::string value) {
  for (auto& [k, v] : graph.info.metadata_props) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  graph.info.metadata_props.emplace_back(std::string(key), std::move(value));
}

Shape value_shape(const ir::Value& value) {
  Shape shape;
  if (!value.shape) return shape;
  for (const ir::Dim& d : *value.shape) shape.push_back(d.is_static() ? d.value : -1);
  return shape;
}

int64_t model_classes(const ir::Graph& graph) {
  if (graph.outputs().empty()) return -1;
  const Shape s = value_shape(*graph.outputs()[0]);
  return s.size() == 2 ? s[1] : -1;
}

int64_t model_channels(const ir::Graph& graph) {
  if (graph.inputs().empty()) return -1;
  const Shape s = value_shape(*graph.inputs()[0]);
  return s.size() == 4 ? s[1] : -1;
}

}  // namespace hqp::modeldata
