// Conversion between onnx.TensorProto and hqp::Tensor, validating every count and size in the
// proto before trusting it. Internal to src/onnx (it sees the ONNX protobuf classes); not public API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>
#include <onnx/onnx_pb.h>

#include "core/status.h"
#include "core/tensor.h"

namespace hqp::onnx_io::detail {

// "FLOAT16", or "data type 42" for values outside the enum.
std::string onnx_dtype_name(int32_t onnx_type);
// hqp dtype of an onnx.TensorProto.DataType value; kUnsupported naming the ONNX type when hqp
// lacks it. `context` starts every message, e.g. "cannot import initializer 'conv1.weight'".
Result<DType> dtype_from_onnx(int32_t onnx_type, std::string_view context);
int32_t dtype_to_onnx(DType dtype);

// Tensor from a TensorProto holding raw_data (little-endian) or the typed field of its dtype
// (float_data; int32_data for s32/s8/u8/bool; int64_data). External data and segments are
// kUnsupported; sizes and counts are checked before any allocation.
Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, std::string_view context);
// Fills name, dims, data_type and raw_data (little-endian).
void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* proto);

// Parses `bytes` into `message` through a CodedInputStream whose total-bytes limit is the input
// size; false on malformed input. The caller checks bytes.size() <= kMaxProtobufBytes first.
inline constexpr int64_t kMaxProtobufBytes = INT32_MAX;
bool parse_protobuf(std::string_view bytes, google::protobuf::MessageLite* message);

}  // namespace hqp::onnx_io::detail
