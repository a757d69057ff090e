// Tensor storage and checked size arithmetic.
#include "core/tensor.h"

#include <cstring>
#include <new>

namespace hqp {

namespace {
constexpr size_t kTensorAlignment = 64;

struct AlignedDeleter {
  void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t(kTensorAlignment)); }
};
}  // namespace

Result<int64_t> checked_numel(std::span<const int64_t> shape) {
  if (shape.size() > kMaxRank) {
    return make_error(StatusCode::kOutOfRange, "cannot size tensor: rank {} exceeds the limit of {}", shape.size(),
                      kMaxRank);
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return make_error(StatusCode::kInvalidArgument, "cannot size tensor of shape {}: negative dimension {}",
                        shape_to_string(shape), d);
    }
    if (d != 0 && n > INT64_MAX / d) {
      return make_error(StatusCode::kOutOfRange, "cannot size tensor of shape {}: element count overflows int64",
                        shape_to_string(shape));
    }
    n *= d;
  }
  return n;
}

Result<int64_t> checked_nbytes(DType dtype, std::span<const int64_t> shape) {
  HQP_ASSIGN_OR_RETURN(int64_t n, checked_numel(shape));
  const int64_t elem = static_cast<int64_t>(dtype_size(dtype));
  if (elem == 0) return make_error(StatusCode::kInvalidArgument, "cannot size tensor: undefined dtype");
  if (n > kMaxTensorBytes / elem) {
    return make_error(StatusCode::kOutOfRange,
                      "cannot allocate tensor of shape {} ({}): {} elements exceed the limit of {} bytes",
                      shape_to_string(shape), dtype_name(dtype), n, kMaxTensorBytes);
  }
  return n * elem;
}

std::string shape_to_string(std::span<const int64_t> shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

Result<Tensor> Tensor::zeros(DType dtype, Shape shape) {
  HQP_ASSIGN_OR_RETURN(int64_t nbytes, checked_nbytes(dtype, shape));
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = nbytes / static_cast<int64_t>(dtype_size(dtype));
  t.shape_ = std::move(shape);
  const size_t alloc = static_cast<size_t>(nbytes > 0 ? nbytes : 1);
  std::byte* p = static_cast<std::byte*>(::operator new[](alloc, std::align_val_t(kTensorAlignment), std::nothrow));
  if (p == nullptr) {
    return make_error(StatusCode::kOutOfRange, "cannot allocate tensor of {} bytes: out of memory", nbytes);
  }
  std::memset(p, 0, alloc);
  t.storage_ = std::shared_ptr<std::byte[]>(p, AlignedDeleter());
  return t;
}

Tensor Tensor::view(DType dtype, Shape shape, void* data) {
  Tensor t;
  t.dtype_ = dtype;
  auto n = checked_numel(shape);
  HQP_CHECK(n.ok());
  t.numel_ = *n;
  t.shape_ = std::move(shape);
  // Aliasing constructor with an empty owner: a non-owning pointer, no control block allocated.
  t.storage_ = std::shared_ptr<std::byte[]>(std::shared_ptr<std::byte[]>(), static_cast<std::byte*>(data));
  return t;
}

void Tensor::rebind_view(void* data) {
  HQP_CHECK_MSG(defined() && storage_.use_count() == 0, "rebind_view on a tensor that owns its memory");
  storage_ = std::shared_ptr<std::byte[]>(std::shared_ptr<std::byte[]>(), static_cast<std::byte*>(data));
}

Tensor Tensor::clone() const {
  if (!defined()) return Tensor();
  Result<Tensor> t = zeros(dtype_, shape_);
  HQP_CHECK(t.ok());
  if (nbytes() > 0) std::memcpy(t->raw_data(), raw_data(), static_cast<size_t>(nbytes()));
  return std::move(t).value();
}

Result<Tensor> Tensor::reshaped(Shape shape) const {
  HQP_ASSIGN_OR_RETURN(int64_t n, checked_numel(shape));
  if (n != numel_) {
    return make_error(StatusCode::kInvalidArgument, "cannot reshape tensor of shape {} to {}: element counts differ",
                      shape_to_string(shape_), shape_to_string(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

bool Tensor::equals(const Tensor& other) const {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  if (nbytes() == 0) return true;
  return std::memcmp(raw_data(), other.raw_data(), static_cast<size_t>(nbytes())) == 0;
}

double Tensor::element_as_double(int64_t i) const {
  HQP_CHECK(i >= 0 && i < numel_);
  switch (dtype_) {
    case DType::kF32: return static_cast<const float*>(raw_data())[i];
    case DType::kU8: return static_cast<const uint8_t*>(raw_data())[i];
    case DType::kS8: return static_cast<const int8_t*>(raw_data())[i];
    case DType::kS32: return static_cast<const int32_t*>(raw_data())[i];
    case DType::kS64: return static_cast<double>(static_cast<const int64_t*>(raw_data())[i]);
    case DType::kBool: return static_cast<const uint8_t*>(raw_data())[i] != 0 ? 1.0 : 0.0;
    case DType::kUndefined: break;
  }
  HQP_CHECK_MSG(false, "element_as_double on an undefined tensor");
}

int64_t Tensor::element_as_int64(int64_t i) const {
  HQP_CHECK(i >= 0 && i < numel_);
  switch (dtype_) {
    case DType::kU8: return static_cast<const uint8_t*>(raw_data())[i];
    case DType::kS8: return static_cast<const int8_t*>(raw_data())[i];
    case DType::kS32: return static_cast<const int32_t*>(raw_data())[i];
    case DType::kS64: return static_cast<const int64_t*>(raw_data())[i];
    case DType::kBool: return static_cast<const uint8_t*>(raw_data())[i] != 0 ? 1 : 0;
    default: break;
  }
  HQP_CHECK_MSG(false, "element_as_int64 on a non-integer tensor");
}

}  // namespace hqp
