// Fuzz target: onnx.TensorProto bytes (the input_0.pb files of `hqp run --input`) -> Tensor.
// Properties: a tensor or a clean error; an accepted tensor's byte count matches its shape.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "onnx/import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqp;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Result<Tensor> tensor = onnx_io::tensor_from_bytes(bytes, "fuzz.pb");
  fuzz::tally(tensor.ok());
  if (!tensor.ok()) {
    fuzz::check_clean_error(tensor.status());
    return 0;
  }
  Result<int64_t> nbytes = checked_nbytes(tensor->dtype(), tensor->shape());
  if (!nbytes.ok() || *nbytes != tensor->nbytes()) fuzz::violated("tensor size does not match its shape");
  return 0;
}
