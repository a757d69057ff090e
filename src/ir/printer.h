// Readable text dump of a Graph, for tests, debugging and `hqp info --dump`. Stable format:
// one line per input, initializer (name, dtype, shape), node, and output.
#pragma once

#include <string>

#include "ir/graph.h"

namespace hqp::ir {

// `with_initializers`: list every initializer (large models have hundreds).
std::string dump(const Graph& graph, bool with_initializers = true);
std::string format_attrs(const Attrs& attrs);
std::string format_value_type(const Value& v);  // "f32[batch,3,224,224]"

}  // namespace hqp::ir
