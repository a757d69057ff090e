// Dense, contiguous, row-major tensor with shared storage. Copying a Tensor shares its buffer
// (like a handle); clone() copies the data. Not thread-safe for concurrent writers.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace hqp {

using Shape = std::vector<int64_t>;

// Upper bound on any single tensor hqp allocates (guards against hostile sizes in files).
inline constexpr int64_t kMaxTensorBytes = int64_t{1} << 34;  // 16 GiB
// Upper bound on tensor rank.
inline constexpr size_t kMaxRank = 8;

// Element count of `shape`; fails on negative dims or int64 overflow.
Result<int64_t> checked_numel(std::span<const int64_t> shape);
// Byte size of a tensor; fails on overflow or above kMaxTensorBytes.
Result<int64_t> checked_nbytes(DType dtype, std::span<const int64_t> shape);
// "1x3x224x224" (scalars print as "scalar").
std::string shape_to_string(std::span<const int64_t> shape);

class Tensor {
 public:
  Tensor() = default;

  // Zero-filled tensor; fails (kOutOfRange) when the size overflows or exceeds kMaxTensorBytes.
  static Result<Tensor> zeros(DType dtype, Shape shape);
  // Tensor copied from `values`; the element count must match the shape (checked).
  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);
  // 0-d tensor holding one value.
  template <typename T>
  static Tensor scalar(T value) { return from_vector<T>({}, {value}); }

  // Non-owning tensor over `data` (which must hold the whole tensor and outlive every copy of the
  // view). For runtimes that place activations in an arena. Allocates no tensor memory.
  static Tensor view(DType dtype, Shape shape, void* data);
  // Points this view at other memory holding a tensor of the same dtype and shape, without any
  // allocation (runtimes re-bind their views per run). Only for views: checked.
  void rebind_view(void* data);

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t axis) const { return shape_.at(static_cast<size_t>(axis)); }
  int64_t numel() const { return numel_; }
  int64_t nbytes() const { return numel_ * static_cast<int64_t>(dtype_size(dtype_)); }

  void* raw_data() { return storage_.get(); }
  const void* raw_data() const { return storage_.get(); }
  template <typename T>
  T* data() {
    HQP_CHECK_MSG(dtype_of<T>() == dtype_, std::string("tensor dtype is ") + std::string(dtype_name(dtype_)));
    return static_cast<T*>(raw_data());
  }
  template <typename T>
  const T* data() const {
    HQP_CHECK_MSG(dtype_of<T>() == dtype_, std::string("tensor dtype is ") + std::string(dtype_name(dtype_)));
    return static_cast<const T*>(raw_data());
  }
  template <typename T>
  std::span<T> span() { return {data<T>(), static_cast<size_t>(numel_)}; }
  template <typename T>
  std::span<const T> span() const { return {data<T>(), static_cast<size_t>(numel_)}; }

  // Deep copy.
  Tensor clone() const;
  // Same storage, new shape with the same element count (checked).
  Result<Tensor> reshaped(Shape shape) const;
  // Element-wise bit-exact equality of dtype, shape and bytes.
  bool equals(const Tensor& other) const;
  // Element i converted to double (any dtype); for printing, tests and shape arithmetic.
  double element_as_double(int64_t i) const;
  // Element i of an integer tensor as int64 (s8/u8/s32/s64/bool).
  int64_t element_as_int64(int64_t i) const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<std::byte[]> storage_;
};

template <typename T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Result<Tensor> t = zeros(dtype_of<T>(), std::move(shape));
  HQP_CHECK(t.ok());
  HQP_CHECK(t->numel() == static_cast<int64_t>(values.size()));
  T* dst = t->template data<T>();
  for (size_t i = 0; i < values.size(); ++i) dst[i] = values[i];
  return std::move(t).value();
}

}  // namespace hqp
