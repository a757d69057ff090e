// ONNX import: ModelProto bytes/files -> ir::Graph, and onnx.TensorProto files -> Tensor.
// Every size and count in the file is validated before it is trusted; nothing here aborts on
// malformed input. It does not execute, fold or rewrite anything (graph passes do that).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace hqp::onnx_io {

// Default-domain opsets the importer and exporter accept.
inline constexpr int64_t kMinOpset = 6;
inline constexpr int64_t kMaxOpset = 17;

struct ImportOptions {
  int64_t max_file_bytes = int64_t{2} << 30;  // checked before reading; protobuf caps at 2 GiB - 1
  bool verify = true;                          // run ir::verify_and_infer on the imported graph
};

// Imports a model. Errors: kNotFound/kIoError (file), kOutOfRange (size limits), kParseError (not a
// protobuf, or a protobuf that is not an ONNX model), kUnsupported (op, domain, opset, dtype,
// attribute or feature hqp lacks), kInvalidArgument (inconsistent model), and whatever
// ir::verify_and_infer reports. Node names: empty names become "<OpType>_<node index>", duplicates
// get a "_<k>" suffix (both kept on export); value names are kept exactly. Quantization parameters
// of QDQ models are attached to the quantized values (QuantizeLinear outputs, DequantizeLinear
// inputs) when scale and zero point are constants. value_info and training_info are not imported.
Result<ir::Graph> import_model_file(const std::string& path, const ImportOptions& options = {});
// Same from bytes in memory; `source_name` stands for the path in messages.
Result<ir::Graph> import_model_bytes(std::string_view bytes, std::string_view source_name,
                                     const ImportOptions& options = {});

// A serialized onnx.TensorProto (the ONNX test-data format: input_0.pb, output_0.pb).
Result<Tensor> read_tensor_file(const std::string& path);
Result<Tensor> tensor_from_bytes(std::string_view bytes, std::string_view source_name);

}  // namespace hqp::onnx_io
