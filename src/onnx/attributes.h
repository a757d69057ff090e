// Per-op ONNX attributes <-> IR attribute structs (ir/attrs.h), in both directions and for every
// supported opset form. The one place to edit when an op gains or changes an attribute.
// Internal to src/onnx (sees the ONNX protobuf and schema classes); not public API.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include "core/status.h"
#include "ir/attrs.h"
#include "ir/graph.h"
#include "ir/op.h"

namespace hqp::onnx_io::detail {

struct NodeImportContext {
  const onnx::NodeProto& proto;
  ir::OpKind kind;
  std::string_view node_name;  // the IR name (generated when the proto's name is empty)
  int64_t opset;               // default-domain opset of the model
  const onnx::OpSchema& schema;  // ONNX schema of the op at `opset`
  // Rank of each input where already known (graph inputs, initializers); for the checks of
  // legacy (opset < 7) broadcasting attributes.
  std::span<const std::optional<int64_t>> input_ranks;
};

// What import_attrs leaves for the importer to check once more is known.
struct ImportNotes {
  // Opset < 7 Add/Sub/Mul/Div with broadcast=1 and this axis, whose input ranks were not known yet:
  // to be checked with check_legacy_broadcast after shape inference.
  std::optional<int64_t> legacy_broadcast_axis;
};

// Parses the node's attributes into the IR struct for ctx.kind. Attributes are read only when the
// op's ONNX schema at this opset defines them; anything left unread is kUnsupported naming the
// attribute, node and op. Wrong attribute types are kInvalidArgument.
Result<ir::Attrs> import_attrs(const NodeImportContext& ctx, ImportNotes& notes);

// Opset < 7 broadcast=1 aligns B with A starting at `axis`; the IR means numpy broadcasting, which
// agrees only when axis == rank(A) - rank(B). kUnsupported otherwise or when a rank is unknown.
Status check_legacy_broadcast(std::string_view node_name, int64_t axis, std::optional<int64_t> rank_a,
                              std::optional<int64_t> rank_b);

// Writes `node`'s attributes in the form of `opset` into `proto`. kUnsupported when the IR holds
// something the opset cannot express as an attribute (e.g. Clip min/max at opset >= 11).
Status export_attrs(const ir::Node& node, int64_t opset, const onnx::OpSchema& schema, onnx::NodeProto* proto);

}  // namespace hqp::onnx_io::detail
