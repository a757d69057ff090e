// The tiny synthetic task of the CLI training tests: IDX datasets of 16x16 images whose class is
// the bright quadrant (a small model learns it in a few steps), and a tiny classifier without
// batch norm for it (so that train and eval modes, and data-parallel and single-process runs, agree).
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "cli/cli_test_util.h"

namespace hqp::test {

constexpr int64_t kSide = 16;
constexpr int64_t kClasses = 4;
constexpr uint8_t kBright = 200;
constexpr uint8_t kDark = 30;
constexpr int kNoise = 25;

inline void put_be32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Writes <prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte with n side x side quadrant images
// (label i % 4 = which quadrant is bright: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right).
inline void write_quadrant_idx(const std::string& dir, const std::string& prefix, int64_t n, uint32_t seed,
                        int64_t side = kSide) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(-kNoise, kNoise);
  std::string images, labels;
  put_be32(images, 0x00000803);
  put_be32(images, static_cast<uint32_t>(n));
  put_be32(images, static_cast<uint32_t>(side));
  put_be32(images, static_cast<uint32_t>(side));
  put_be32(labels, 0x00000801);
  put_be32(labels, static_cast<uint32_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = i % kClasses;
    for (int64_t y = 0; y < side; ++y) {
      for (int64_t x = 0; x < side; ++x) {
        const int64_t quadrant = (y >= side / 2 ? 2 : 0) + (x >= side / 2 ? 1 : 0);
        const int v = (quadrant == label ? kBright : kDark) + noise(rng);
        images.push_back(static_cast<char>(std::clamp(v, 0, 255)));
      }
    }
    labels.push_back(static_cast<char>(label));
  }
  ASSERT_TRUE(write_file(dir + "/" + prefix + "-images-idx3-ubyte", images));
  ASSERT_TRUE(write_file(dir + "/" + prefix + "-labels-idx1-ubyte", labels));
}

// A tiny classifier without batch norm (so train and eval modes agree after a few steps):
// input f32 [N, channels, 16, 16] -> Conv 8x8 stride 8 (8 filters) -> Relu -> Flatten -> Gemm -> logits [N, 4].
// with_batch_norm: a BatchNormalization between the Conv and the Relu.
inline onnx::ModelProto tiny_classifier(int64_t channels, bool with_batch_norm = false) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("hqp-cli-test");
  onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("tiny");
  onnx::ValueInfoProto* in = g->add_input();
  set_tensor_type(in, "input", onnx::TensorProto::FLOAT, {1, channels, kSide, kSide});
  in->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_param("N");
  onnx::ValueInfoProto* out = g->add_output();
  set_tensor_type(out, "logits", onnx::TensorProto::FLOAT, {1, kClasses});
  out->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_param("N");

  constexpr int64_t kFilters = 8, kKernel = 8;
  constexpr int64_t kFeatures = kFilters * (kSide / kKernel) * (kSide / kKernel);
  std::mt19937 rng(7);
  auto random_values = [&](int64_t n, float scale) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = d(rng);
    return v;
  };
  *g->add_initializer() = float_tensor("conv.weight", {kFilters, channels, kKernel, kKernel},
                                       random_values(kFilters * channels * kKernel * kKernel, 0.1f));
  *g->add_initializer() = float_tensor("conv.bias", {kFilters}, std::vector<float>(kFilters, 0.0f));
  *g->add_initializer() = float_tensor("fc.weight", {kClasses, kFeatures}, random_values(kClasses * kFeatures, 0.1f));
  *g->add_initializer() = float_tensor("fc.bias", {kClasses}, std::vector<float>(kClasses, 0.0f));
  onnx::NodeProto* conv = add_node(g, "Conv", "conv", {"input", "conv.weight", "conv.bias"}, {"conv"});
  onnx::AttributeProto* k = conv->add_attribute();
  k->set_name("kernel_shape");
  k->set_type(onnx::AttributeProto::INTS);
  k->add_ints(kKernel);
  k->add_ints(kKernel);
  onnx::AttributeProto* s = conv->add_attribute();
  s->set_name("strides");
  s->set_type(onnx::AttributeProto::INTS);
  s->add_ints(kKernel);
  s->add_ints(kKernel);
  if (with_batch_norm) {
    *g->add_initializer() = float_tensor("bn.weight", {kFilters}, std::vector<float>(kFilters, 1.0f));
    *g->add_initializer() = float_tensor("bn.bias", {kFilters}, std::vector<float>(kFilters, 0.0f));
    *g->add_initializer() = float_tensor("bn.running_mean", {kFilters}, std::vector<float>(kFilters, 0.0f));
    *g->add_initializer() = float_tensor("bn.running_var", {kFilters}, std::vector<float>(kFilters, 1.0f));
    add_node(g, "BatchNormalization", "bn", {"conv", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"},
             {"bn"});
    add_node(g, "Relu", "relu", {"bn"}, {"relu"});
  } else {
    add_node(g, "Relu", "relu", {"conv"}, {"relu"});
  }
  add_node(g, "Flatten", "flatten", {"relu"}, {"flat"});
  onnx::NodeProto* fc = add_node(g, "Gemm", "fc", {"flat", "fc.weight", "fc.bias"}, {"logits"});
  onnx::AttributeProto* tb = fc->add_attribute();
  tb->set_name("transB");
  tb->set_type(onnx::AttributeProto::INT);
  tb->set_i(1);
  return m;
}

}  // namespace hqp::test
