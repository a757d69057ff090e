// insert_qdq on the golden torchvision models (ResNet-18, MobileNetV3-Small; opsets 13 and 17):
// QDQ structure, ONNX export + re-import, fake-quant accuracy against the float model, what the
// runtime's lowering makes of it, and the fast INT8 kernels (oneDNN) against the integer
// reference kernels through hqp::Session.
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/tensor_compare.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "quant/insert_qdq.h"
#include "quant/quant_test_util.h"
#include "quant/quant_tolerances.h"
#include "reference/executor.h"
#include "runtime/session.h"

namespace hqp::test {
namespace {

using ir::OpKind;

constexpr int kCalibBatches = 4;
constexpr int64_t kEvalBatch = 4;
constexpr int kSessionThreads = 2;
const Shape kImage = {1, 3, 224, 224};

struct ModelCase {
  std::string name;
  int convs;             // Conv nodes (all quantized and lowered to QConv)
  int gemms;             // Gemm nodes (all quantized and lowered to QGemm)
  int residual_adds;
  int activations;       // tensors given Q -> DQ
  size_t lowered_nodes;  // nodes after optimize_for_runtime (QConv, QGemm and what stays float)
  double min_cosine;
};

const std::vector<ModelCase> kCases = {
    {"resnet18_op13", 20, 1, 8, 24, 25, kResNet18MinCosine},
    {"resnet18_op17", 20, 1, 8, 24, 25, kResNet18MinCosine},
    {"mobilenet_v3_small_op13", 52, 2, 6, 55, 132, kMobileNetV3SmallMinCosine},
    {"mobilenet_v3_small_op17", 52, 2, 6, 55, 132, kMobileNetV3SmallMinCosine},
};

std::string case_name(const testing::TestParamInfo<ModelCase>& info) { return info.param.name; }

// The float model and its QDQ version (quantized once per case and cached: calibration runs the
// reference executor).
struct Quantized {
  ir::Graph float_graph;
  ir::Graph qdq;
  quant::QdqStats stats;
};

const Quantized& quantized(const ModelCase& c) {
  static std::map<std::string, Quantized> cache;
  auto it = cache.find(c.name);
  if (it != cache.end()) return it->second;
  Quantized q;
  const std::string path = golden_model(c.name);
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "missing golden model " << path << ": the CTest fixture golden_models_generate generates it, "
                  << "or run /usr/bin/python3 tests/golden/make_golden.py --out " << kGoldenDir;
    return cache[c.name];
  }
  Result<ir::Graph> g = onnx_io::import_model_file(path);
  EXPECT_TRUE(g.ok()) << g.status().message();
  if (!g.ok()) return cache[c.name];
  q.float_graph = std::move(g).value();
  q.qdq = q.float_graph.clone();
  Result<quant::QdqStats> s = quant::insert_qdq(q.qdq, random_calibration(kImage, kCalibBatches, kCalibSeed));
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (s.ok()) q.stats = *s;
  return cache[c.name] = std::move(q);
}

class QuantModels : public testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override {
    q_ = &quantized(GetParam());
    if (q_->qdq.nodes().empty()) GTEST_FAIL() << "no QDQ model for " << GetParam().name;
  }
  const Quantized* q_ = nullptr;
};

TEST_P(QuantModels, Structure) {
  const ModelCase& c = GetParam();
  const quant::QdqStats& s = q_->stats;
  EXPECT_EQ(s.quantized_convs, c.convs);
  EXPECT_EQ(s.quantized_gemms, c.gemms);
  EXPECT_EQ(s.float_compute, 0);
  EXPECT_EQ(s.residual_adds, c.residual_adds);
  EXPECT_EQ(s.quantized_activations, c.activations);
  EXPECT_EQ(count_kind(q_->qdq, OpKind::QuantizeLinear), c.activations);
  // One DQ per quantized activation, weight and bias.
  EXPECT_EQ(count_kind(q_->qdq, OpKind::DequantizeLinear), c.activations + 2 * (c.convs + c.gemms));
  EXPECT_EQ(count_kind(q_->qdq, OpKind::BatchNormalization), 0);
  EXPECT_EQ(count_kind(q_->qdq, OpKind::Conv), c.convs);
  EXPECT_EQ(count_kind(q_->qdq, OpKind::Gemm), c.gemms);
}

TEST_P(QuantModels, ExportsWithTheFullOnnxCheckAndReimports) {
  Result<std::string> bytes = onnx_io::export_model_bytes(q_->qdq);
  HQP_ASSERT_OK(bytes.status());
  Result<ir::Graph> back = onnx_io::import_model_bytes(*bytes, GetParam().name + "_qdq");
  HQP_ASSERT_OK(back.status());
  EXPECT_EQ(back->opset(), q_->qdq.opset());
  EXPECT_EQ(back->nodes().size(), q_->qdq.nodes().size());
  EXPECT_EQ(count_kind(*back, OpKind::QuantizeLinear), count_kind(q_->qdq, OpKind::QuantizeLinear));
  EXPECT_EQ(count_kind(*back, OpKind::DequantizeLinear), count_kind(q_->qdq, OpKind::DequantizeLinear));
}

TEST_P(QuantModels, FakeQuantLogitsAgreeWithFloat) {
  std::mt19937 rng(kEvalSeed);
  const std::vector<Tensor> in = {normal_f32({kEvalBatch, 3, 224, 224}, rng)};
  Result<std::vector<Tensor>> f = reference::run_reference(q_->float_graph, in);
  Result<std::vector<Tensor>> q = reference::run_reference(q_->qdq, in);
  HQP_ASSERT_OK(f.status());
  HQP_ASSERT_OK(q.status());
  const Tensor& fl = (*f)[0];
  const Tensor& ql = (*q)[0];
  double min_cos = 1.0;
  int top1 = 0;
  for (int64_t r = 0; r < kEvalBatch; ++r) {
    const Tensor fr = Tensor::from_vector<float>({fl.dim(1)}, std::vector<float>(fl.data<float>() + r * fl.dim(1),
                                                                                 fl.data<float>() + (r + 1) * fl.dim(1)));
    const Tensor qr = Tensor::from_vector<float>({ql.dim(1)}, std::vector<float>(ql.data<float>() + r * ql.dim(1),
                                                                                 ql.data<float>() + (r + 1) * ql.dim(1)));
    min_cos = std::min(min_cos, cosine_similarity(qr, fr));
    top1 += argmax_row(fl, r) == argmax_row(ql, r) ? 1 : 0;
  }
  std::printf("[ quant    ] %s fake-quant vs float: min cosine %.5f, top-1 agreement %d/%lld, max rel err %.4f\n",
              GetParam().name.c_str(), min_cos, top1, static_cast<long long>(kEvalBatch), max_relative_error(ql, fl));
  EXPECT_GE(min_cos, GetParam().min_cosine);
}

// Session on the QDQ graph with every quantized tensor (QuantizeLinear output) made a graph
// output too, so that both engines return every INT8 tensor of the network.
ir::Graph with_int8_outputs(const ir::Graph& qdq, std::vector<std::string>* names) {
  ir::Graph g = qdq.clone();
  for (const auto& n : g.nodes()) {
    if (n->kind != OpKind::QuantizeLinear) continue;
    g.add_output(n->output(0));
  }
  for (const ir::Value* v : g.outputs()) names->push_back(v->name);
  return g;
}

TEST_P(QuantModels, LoweringAndInt8KernelsMatchTheIntegerReference) {
  const ModelCase& c = GetParam();
  std::vector<std::string> names;
  const ir::Graph g = with_int8_outputs(q_->qdq, &names);
  SessionOptions o;
  o.threads = kSessionThreads;
  o.engine = Engine::kFast;
  Result<Session> fast = Session::create(g, o);
  o.engine = Engine::kReference;
  Result<Session> ref = Session::create(g, o);
  HQP_ASSERT_OK(fast.status());
  HQP_ASSERT_OK(ref.status());
  const ir::Graph& lowered = fast->graph();
  EXPECT_EQ(count_kind(lowered, OpKind::QConv), c.convs);
  EXPECT_EQ(count_kind(lowered, OpKind::QGemm), c.gemms);
  EXPECT_EQ(count_kind(lowered, OpKind::Conv) + count_kind(lowered, OpKind::FusedConv) +
                count_kind(lowered, OpKind::Gemm) + count_kind(lowered, OpKind::FusedGemm) +
                count_kind(lowered, OpKind::Add),
            0);
  EXPECT_EQ(lowered.nodes().size(), c.lowered_nodes);
  std::printf("[ quant    ] %s: %zu QDQ nodes -> %zu after optimize_for_runtime\n%s", c.name.c_str(),
              q_->qdq.nodes().size(), lowered.nodes().size(), fast->optimize_report().c_str());

  std::mt19937 rng(kEvalSeed);
  const std::vector<Tensor> in = {normal_f32(kImage, rng)};
  Result<std::vector<Tensor>> a = fast->run(in);
  Result<std::vector<Tensor>> b = ref->run(in);
  HQP_ASSERT_OK(a.status());
  HQP_ASSERT_OK(b.status());
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < names.size(); ++i) index[names[i]] = i;
  auto same = [&](const ir::Value* v) {
    auto it = index.find(v->name);
    return it != index.end() && (*a)[it->second].equals((*b)[it->second]);
  };
  // Every QConv / QGemm with an INT8 output whose INT8 inputs (src, and the residual sum) agree
  // between the engines must produce the bit-identical INT8 output.
  int checked = 0;
  for (const auto& n : lowered.nodes()) {
    if (n->kind != OpKind::QConv && n->kind != OpKind::QGemm) continue;
    const ir::Value* out = n->output(0);
    if (out->dtype == DType::kF32 || index.count(out->name) == 0) continue;
    if (!same(n->input(0)) || (n->input(3) != nullptr && !same(n->input(3)))) continue;
    const size_t i = index.at(out->name);
    const LsbDiff d = lsb_diff((*a)[i], (*b)[i]);
    EXPECT_EQ(d.max_lsb, 0) << n->name << ": " << d.mismatches << " of " << (*b)[i].numel() << " elements differ";
    ++checked;
  }
  // Whole network: every INT8 tensor and the logits (see kInt8EndToEndMismatches).
  int64_t mismatches = 0;
  int64_t elements = 0;
  int64_t max_lsb = 0;
  for (size_t i = 1; i < names.size(); ++i) {
    const LsbDiff d = lsb_diff((*a)[i], (*b)[i]);
    mismatches += d.mismatches;
    max_lsb = std::max(max_lsb, d.max_lsb);
    elements += (*b)[i].numel();
  }
  const double logits_err = max_relative_error((*a)[0], (*b)[0]);
  std::printf("[ quant    ] %s fast vs integer reference: %d INT8 convs/gemms checked bit-exact; all %zu INT8 "
              "tensors: %lld of %lld elements differ (max %lld LSB); logits max rel err %.3g\n",
              c.name.c_str(), checked, names.size() - 1, static_cast<long long>(mismatches),
              static_cast<long long>(elements), static_cast<long long>(max_lsb), logits_err);
  EXPECT_GT(checked, 0);
  EXPECT_EQ(mismatches, kInt8EndToEndMismatches);
  EXPECT_EQ(bitwise_mismatch((*a)[0], (*b)[0]), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Golden, QuantModels, testing::ValuesIn(kCases), case_name);

}  // namespace
}  // namespace hqp::test
