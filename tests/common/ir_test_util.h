// Test helpers for code that builds IR graphs by hand (tests/ir, tests/runtime): terse dims,
// constant tensors and Status assertions. Test-only.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace hqp::test {

// One dim of a `dims({...})` list: an integer is static, a string is a symbol ("N").
struct DimArg {
  ir::Dim dim;
  DimArg(int v) : dim(ir::Dim::fixed(v)) {}           // NOLINT: implicit by design
  DimArg(int64_t v) : dim(ir::Dim::fixed(v)) {}       // NOLINT
  DimArg(const char* s) : dim(ir::Dim::symbolic(s)) {}  // NOLINT
  DimArg(ir::Dim d) : dim(std::move(d)) {}            // NOLINT
};

// dims({"N", 3, 224, 224}) -> [N,3,224,224]
inline ir::Dims dims(std::initializer_list<DimArg> list) {
  ir::Dims out;
  for (const DimArg& a : list) out.push_back(a.dim);
  return out;
}

// "[N,3,224,224]" of a value's inferred shape, "<rank unknown>" when it has none.
inline std::string shape_of(const ir::Value* v) {
  if (v == nullptr) return "<null value>";
  return v->shape ? ir::dims_to_string(*v->shape) : "<rank unknown>";
}

// f32 tensor of `shape` holding 0, 1, 2, ... scaled by `step` (exactly representable values).
inline Tensor iota_f32(Shape shape, float step = 1.0f, float start = 0.0f) {
  Result<Tensor> t = Tensor::zeros(DType::kF32, std::move(shape));
  EXPECT_TRUE(t.ok()) << t.status().message();
  float* d = t->data<float>();
  for (int64_t i = 0; i < t->numel(); ++i) d[i] = start + step * static_cast<float>(i);
  return std::move(t).value();
}

inline Tensor full_f32(Shape shape, float value) {
  Result<Tensor> t = Tensor::zeros(DType::kF32, std::move(shape));
  EXPECT_TRUE(t.ok()) << t.status().message();
  for (float& x : t->span<float>()) x = value;
  return std::move(t).value();
}

inline Tensor s64_vector(const std::vector<int64_t>& values) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values);
}

// Success when `s` failed with `code` and its message contains `substr`.
inline ::testing::AssertionResult is_error(const Status& s, StatusCode code, std::string_view substr) {
  if (s.ok()) return ::testing::AssertionFailure() << "expected an error containing '" << substr << "', got ok";
  if (s.code() != code) {
    return ::testing::AssertionFailure() << "expected code " << status_code_name(code) << ", got "
                                         << status_code_name(s.code()) << ": " << s.message();
  }
  if (s.message().find(substr) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks '" << substr << "': " << s.message();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace hqp::test

// Assertions on Status / Result<T>: the message is printed on failure.
#define HQP_ASSERT_OK(expr)                                    \
  do {                                                         \
    const ::hqp::Status hqp_test_status_ = (expr);             \
    ASSERT_TRUE(hqp_test_status_.ok()) << hqp_test_status_.message(); \
  } while (0)
#define HQP_EXPECT_OK(expr)                                    \
  do {                                                         \
    const ::hqp::Status hqp_test_status_ = (expr);             \
    EXPECT_TRUE(hqp_test_status_.ok()) << hqp_test_status_.message(); \
  } while (0)
