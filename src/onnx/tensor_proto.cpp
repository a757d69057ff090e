// TensorProto <-> Tensor conversion with size validation, and the bounded protobuf parser.
#include "onnx/tensor_proto.h"

#include <bit>
#include <cstring>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace hqp::onnx_io::detail {

static_assert(std::endian::native == std::endian::little, "raw_data is little-endian; hqp assumes a little-endian host");

std::string onnx_dtype_name(int32_t onnx_type) {
  if (onnx::TensorProto_DataType_IsValid(onnx_type)) {
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(onnx_type));
  }
  return fmt::format("data type {}", onnx_type);
}

Result<DType> dtype_from_onnx(int32_t onnx_type, std::string_view context) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT: return DType::kF32;
    case onnx::TensorProto::UINT8: return DType::kU8;
    case onnx::TensorProto::INT8: return DType::kS8;
    case onnx::TensorProto::INT32: return DType::kS32;
    case onnx::TensorProto::INT64: return DType::kS64;
    case onnx::TensorProto::BOOL: return DType::kBool;
    case onnx::TensorProto::UNDEFINED:
      return make_error(StatusCode::kInvalidArgument, "{}: element type is UNDEFINED", context);
    default: break;
  }
  return make_error(StatusCode::kUnsupported,
                    "{}: unsupported data type {} (expected FLOAT, UINT8, INT8, INT32, INT64 or BOOL)", context,
                    onnx_dtype_name(onnx_type));
}

int32_t dtype_to_onnx(DType dtype) {
  switch (dtype) {
    case DType::kF32: return onnx::TensorProto::FLOAT;
    case DType::kU8: return onnx::TensorProto::UINT8;
    case DType::kS8: return onnx::TensorProto::INT8;
    case DType::kS32: return onnx::TensorProto::INT32;
    case DType::kS64: return onnx::TensorProto::INT64;
    case DType::kBool: return onnx::TensorProto::BOOL;
    case DType::kUndefined: break;
  }
  return onnx::TensorProto::UNDEFINED;
}

namespace {

// Copies int32_data into a narrower integer type after checking every value's range.
template <typename T>
Status copy_narrow_int32_data(const onnx::TensorProto& proto, int64_t lo, int64_t hi, Tensor& t,
                              std::string_view context) {
  T* dst = static_cast<T*>(t.raw_data());
  for (int i = 0; i < proto.int32_data_size(); ++i) {
    const int64_t v = proto.int32_data(i);
    if (v < lo || v > hi) {
      return make_error(StatusCode::kInvalidArgument, "{}: int32_data[{}]={} is out of range for {} (expected {}..{})",
                        context, i, v, dtype_name(t.dtype()), lo, hi);
    }
    dst[i] = static_cast<T>(v);
  }
  return Status::ok_status();
}

}  // namespace

Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, std::string_view context) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL || proto.external_data_size() > 0) {
    return make_error(StatusCode::kUnsupported, "{}: tensors with external data are not supported", context);
  }
  if (proto.has_segment()) {
    return make_error(StatusCode::kUnsupported, "{}: segmented tensors are not supported", context);
  }
  HQP_ASSIGN_OR_RETURN(DType dtype, dtype_from_onnx(proto.data_type(), context));
  if (static_cast<size_t>(proto.dims_size()) > kMaxRank) {
    return make_error(StatusCode::kOutOfRange, "{}: rank {} exceeds the limit (expected <= {})", context,
                      proto.dims_size(), kMaxRank);
  }
  Shape shape(proto.dims().begin(), proto.dims().end());
  Result<int64_t> nbytes = checked_nbytes(dtype, shape);
  if (!nbytes.ok()) return nbytes.status().with_context(std::string(context));
  const int64_t numel = *nbytes / static_cast<int64_t>(dtype_size(dtype));

  if (proto.has_raw_data()) {
    const int64_t raw_bytes = static_cast<int64_t>(proto.raw_data().size());
    if (raw_bytes != *nbytes) {
      return make_error(StatusCode::kInvalidArgument, "{}: raw_data holds {} bytes (expected {} for shape {} of {})",
                        context, raw_bytes, *nbytes, shape_to_string(shape), dtype_name(dtype));
    }
    HQP_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(dtype, std::move(shape)));
    if (*nbytes > 0) std::memcpy(t.raw_data(), proto.raw_data().data(), static_cast<size_t>(*nbytes));
    return t;
  }

  // Typed fields: check the one this dtype uses holds exactly numel values, the others none.
  const char* field = "";
  int64_t count = 0;
  switch (dtype) {
    case DType::kF32: field = "float_data"; count = proto.float_data_size(); break;
    case DType::kS64: field = "int64_data"; count = proto.int64_data_size(); break;
    default: field = "int32_data"; count = proto.int32_data_size(); break;
  }
  const int64_t total = int64_t{proto.float_data_size()} + proto.int32_data_size() + proto.int64_data_size() +
                        proto.double_data_size() + proto.uint64_data_size() + proto.string_data_size();
  if (count != numel || total != count) {
    return make_error(StatusCode::kInvalidArgument,
                      "{}: holds {} values in {} and {} in other data fields (expected {} in {} for shape {})",
                      context, count, field, total - count, numel, field, shape_to_string(shape));
  }
  HQP_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(dtype, std::move(shape)));
  switch (dtype) {
    case DType::kF32:
      if (numel > 0) std::memcpy(t.raw_data(), proto.float_data().data(), static_cast<size_t>(*nbytes));
      break;
    case DType::kS64:
      if (numel > 0) std::memcpy(t.raw_data(), proto.int64_data().data(), static_cast<size_t>(*nbytes));
      break;
    case DType::kS32:
      if (numel > 0) std::memcpy(t.raw_data(), proto.int32_data().data(), static_cast<size_t>(*nbytes));
      break;
    case DType::kS8: HQP_RETURN_IF_ERROR(copy_narrow_int32_data<int8_t>(proto, -128, 127, t, context)); break;
    case DType::kU8: HQP_RETURN_IF_ERROR(copy_narrow_int32_data<uint8_t>(proto, 0, 255, t, context)); break;
    case DType::kBool: HQP_RETURN_IF_ERROR(copy_narrow_int32_data<uint8_t>(proto, 0, 1, t, context)); break;
    case DType::kUndefined: break;
  }
  return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* proto) {
  HQP_CHECK_MSG(t.defined(), "cannot serialize undefined tensor '" + name + "'");
  proto->Clear();
  proto->set_name(name);
  proto->set_data_type(dtype_to_onnx(t.dtype()));
  for (int64_t d : t.shape()) proto->add_dims(d);
  proto->set_raw_data(static_cast<const char*>(t.raw_data()), static_cast<size_t>(t.nbytes()));
}

bool parse_protobuf(std::string_view bytes, google::protobuf::MessageLite* message) {
  HQP_CHECK(static_cast<int64_t>(bytes.size()) <= kMaxProtobufBytes);
  google::protobuf::io::ArrayInputStream array(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&array);
  coded.SetTotalBytesLimit(static_cast<int>(bytes.size()));
  return message->ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

}  // namespace hqp::onnx_io::detail
