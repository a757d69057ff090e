// torchvision's classification CNNs beyond the golden set (issue 10's list: ResNet-50, ResNeXt-50,
// DenseNet-121, SqueezeNet 1.1, ShuffleNetV2, MNASNet, EfficientNet-B0 / V2-S, RegNetX / Y-400MF,
// ConvNeXt-Tiny, GoogLeNet, Inception-v3, AlexNet), exported by PyTorch at opset 13 with random
// weights into $HQP_ZOO_DIR by the CTest fixture golden_zoo_generate (tests/golden/make_zoo.py):
// hqp imports each one and its fast runtime reproduces PyTorch's logits (max |diff| / max |logit|
// <= 1e-4, the bar). The same for small conv + torch.nn.Upsample nets (PyTorch's Resize
// exports). Missing data is a failure, never a skip.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/tensor_compare.h"
#include "onnx/import.h"
#include "runtime/session_test_util.h"

namespace hqp::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kZooDir = HQP_ZOO_DIR;
// PyTorch's float32 logits against hqp's (oneDNN's summation orders differ from PyTorch's).
constexpr double kZooMaxRelErr = 1e-4;

// make_zoo.py's ZOO_MODELS.
const std::vector<std::string> kZooModels = {
    "resnet50",      "resnext50_32x4d", "densenet121",    "squeezenet1_1",  "shufflenet_v2_x1_0",
    "mnasnet1_0",    "efficientnet_b0", "efficientnet_v2_s", "regnet_x_400mf", "regnet_y_400mf",
    "convnext_tiny", "googlenet",       "inception_v3",   "alexnet"};

class ZooModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooModel, FastRuntimeMatchesPyTorch) {
  const fs::path dir = fs::path(kZooDir) / GetParam();
  const std::string hint = fmt::format(
      "missing zoo data in {}: the CTest fixture golden_zoo_generate writes it, or run /usr/bin/python3 "
      "tests/golden/make_zoo.py --out {}",
      dir.string(), kZooDir);
  ASSERT_TRUE(fs::exists(dir / "model.onnx")) << hint;
  Result<ir::Graph> g = onnx_io::import_model_file((dir / "model.onnx").string());
  HQP_ASSERT_OK(g.status());
  Result<Tensor> x = onnx_io::read_tensor_file((dir / "test_data_set_0" / "input_0.pb").string());
  HQP_ASSERT_OK(x.status());
  Result<Tensor> want = onnx_io::read_tensor_file((dir / "test_data_set_0" / "output_0.pb").string());
  HQP_ASSERT_OK(want.status());
  Result<Session> s = Session::create(*g, session_options(Engine::kFast, 2));
  HQP_ASSERT_OK(s.status());
  const std::vector<Tensor> inputs = {*x};
  Result<std::vector<Tensor>> got = s->run(inputs);
  HQP_ASSERT_OK(got.status());
  ASSERT_EQ(got->size(), 1u);
  ASSERT_EQ((*got)[0].shape(), want->shape());
  const double err = max_relative_error((*got)[0], *want);
  EXPECT_LE(err, kZooMaxRelErr) << GetParam();
  std::printf("%s: max rel err vs PyTorch %.2e\n", GetParam().c_str(), err);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, ZooModel, ::testing::ValuesIn(kZooModels),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

// make_zoo.py's UPSAMPLE_MODELS: a conv and torch.nn.Upsample (bilinear with and without
// align_corners, nearest; by scale factor and by size) as PyTorch exports them (Resize, opset 13).
const std::vector<std::string> kUpsampleModels = {"upsample_bilinear", "upsample_bilinear_align_corners",
                                                  "upsample_nearest", "upsample_bilinear_sizes",
                                                  "upsample_nearest_sizes"};
INSTANTIATE_TEST_SUITE_P(TorchUpsample, ZooModel, ::testing::ValuesIn(kUpsampleModels),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace hqp::test
