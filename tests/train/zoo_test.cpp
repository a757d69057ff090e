// Model zoo: trainable parameter counts equal torchvision's, names and shapes equal torchvision's
// state_dict (checked against Debian's torchvision when it is installed), initialization
// statistics, small-input stems, ONNX export with the full check.
#include <cmath>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "onnx/export.h"
#include "train/torch_executor.h"
#include "train/zoo.h"

namespace hqp::test {
namespace {

struct ZooCase {
  const char* arch;
  int64_t trainable_params;  // sum(p.numel() for p in torchvision.models.<arch>().parameters())
  size_t state_dict_entries;  // len(state_dict()) without the num_batches_tracked buffers
};

const ZooCase kZoo[] = {
    {"resnet18", 11689512, 102},          {"resnet34", 21797672, 182},
    {"resnet50", 25557032, 267},          {"mobilenet_v2", 3504872, 262},
    {"mobilenet_v3_small", 2542856, 210}, {"mobilenet_v3_large", 5483032, 266},
};

TEST(ZooTest, ParameterCountsMatchTorchvision) {
  for (const ZooCase& z : kZoo) {
    SCOPED_TRACE(z.arch);
    auto g = train::build_zoo_model(z.arch);
    ASSERT_TRUE(g.ok()) << g.status().message();
    auto exec = train::TorchExecutor::create(*g);
    ASSERT_TRUE(exec.ok()) << exec.status().message();
    EXPECT_EQ((*exec)->num_parameter_elements(), z.trainable_params);
    EXPECT_EQ((*exec)->parameters().size() + (*exec)->buffer_names().size(), z.state_dict_entries);
    EXPECT_EQ(g->outputs()[0]->name, "logits");
    EXPECT_EQ(ir::dims_to_string(*g->outputs()[0]->shape), "[N,1000]");
    EXPECT_EQ(g->opset(), 17);
  }
}

// "name shape" lines of every parameter and buffer, sorted (the torchvision dump's format).
std::vector<std::string> state_dict_lines(const ir::Graph& g) {
  auto exec = train::TorchExecutor::create(g);
  EXPECT_TRUE(exec.ok());
  std::vector<std::string> names;
  for (const auto& p : (*exec)->parameters()) names.push_back(p.name);
  for (const auto& b : (*exec)->buffer_names()) names.push_back(b);
  std::vector<std::string> lines;
  for (const std::string& n : names) lines.push_back(n + " " + shape_to_string(g.find_value(n)->data.shape()));
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(ZooTest, NamesAndShapesEqualTorchvisionStateDict) {
  TempDir dir;
  const std::string script = dir.file("keys.py");
  ASSERT_TRUE(write_file(script, R"(import sys
try:
    import torchvision.models as m
except ImportError:
    print("NO_TORCHVISION"); sys.exit(0)
for arch in sys.argv[1:]:
    sd = getattr(m, arch)().state_dict()
    for k, v in sd.items():
        if not k.endswith("num_batches_tracked"):
            print(arch, k, "x".join(str(d) for d in v.shape) if v.dim() else "scalar")
)"));
  std::vector<std::string> argv = {HQP_PYTHON, script};
  for (const ZooCase& z : kZoo) argv.push_back(z.arch);
  ProcessResult r = run_process(argv);
  ASSERT_TRUE(r.spawned && r.exited && r.exit_code == 0) << r.describe() << "\n" << r.err;
  if (r.out.find("NO_TORCHVISION") != std::string::npos) GTEST_SKIP() << "torchvision is not installed";
  std::map<std::string, std::vector<std::string>> want;
  std::istringstream in(r.out);
  std::string arch, key, shape;
  while (in >> arch >> key >> shape) want[arch].push_back(key + " " + shape);
  for (const ZooCase& z : kZoo) {
    auto g = train::build_zoo_model(z.arch);
    ASSERT_TRUE(g.ok());
    std::vector<std::string> w = want[z.arch];
    std::sort(w.begin(), w.end());
    EXPECT_EQ(state_dict_lines(*g), w) << z.arch;
  }
}

TEST(ZooTest, ExportsToOnnxWithFullCheck) {
  for (const char* arch : {"resnet18", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"}) {
    train::ZooOptions o;
    o.num_classes = 10;
    auto g = train::build_zoo_model(arch, o);
    ASSERT_TRUE(g.ok()) << g.status().message();
    auto bytes = onnx_io::export_model_bytes(*g);
    EXPECT_TRUE(bytes.ok()) << arch << ": " << bytes.status().message();
  }
}

TEST(ZooTest, SmallInputStemsAndOptions) {
  train::ZooOptions o;
  o.in_channels = 1;
  o.num_classes = 10;
  o.small_input = true;
  o.input_size = 28;
  auto r = train::build_zoo_model("resnet18", o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->find_value("conv1.weight")->data.shape(), (Shape{64, 1, 3, 3}));
  EXPECT_EQ(r->find_node("maxpool"), nullptr);
  EXPECT_EQ(ir::dims_to_string(*r->find_value("layer1.0.conv1")->shape), "[N,64,28,28]");
  EXPECT_EQ(ir::dims_to_string(*r->outputs()[0]->shape), "[N,10]");
  for (const char* arch : {"mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"}) {
    auto m = train::build_zoo_model(arch, o);
    ASSERT_TRUE(m.ok()) << arch << ": " << m.status().message();
    const std::string stem = ir::dims_to_string(*m->find_value("features.0.0")->shape);
    EXPECT_NE(stem.find(",28,28]"), std::string::npos) << arch << " " << stem;
  }
  auto big = train::build_zoo_model("resnet50");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(ir::dims_to_string(*big->find_value("maxpool")->shape), "[N,64,56,56]");
}

TEST(ZooTest, InitializationLikeTorchvision) {
  auto g = train::build_zoo_model("resnet18");
  ASSERT_TRUE(g.ok());
  auto stddev = [](const Tensor& t) {
    double s = 0, sq = 0;
    for (float x : t.span<float>()) {
      s += x;
      sq += double{x} * x;
    }
    const double n = static_cast<double>(t.numel());
    return std::sqrt(sq / n - (s / n) * (s / n));
  };
  // kaiming_normal_(fan_out, relu): std = sqrt(2 / (64 * 7 * 7)).
  EXPECT_NEAR(stddev(g->find_value("conv1.weight")->data), std::sqrt(2.0 / (64 * 49)), 0.02 * std::sqrt(2.0 / (64 * 49)));
  for (float x : g->find_value("bn1.weight")->data.span<float>()) ASSERT_EQ(x, 1.0f);
  for (float x : g->find_value("bn1.bias")->data.span<float>()) ASSERT_EQ(x, 0.0f);
  for (float x : g->find_value("bn1.running_var")->data.span<float>()) ASSERT_EQ(x, 1.0f);
  const double bound = 1.0 / std::sqrt(512.0);  // nn.Linear default init
  for (float x : g->find_value("fc.weight")->data.span<float>()) ASSERT_LE(std::fabs(x), bound);
  auto m = train::build_zoo_model("mobilenet_v3_small");
  ASSERT_TRUE(m.ok());
  EXPECT_NEAR(stddev(m->find_value("classifier.0.weight")->data), 0.01, 0.0005);
  for (float x : m->find_value("classifier.3.bias")->data.span<float>()) ASSERT_EQ(x, 0.0f);
  // Seeded: the same seed gives the same weights, another seed others.
  train::ZooOptions o;
  o.seed = 0;
  auto again = train::build_zoo_model("mobilenet_v3_small", o);
  o.seed = 1;
  auto other = train::build_zoo_model("mobilenet_v3_small", o);
  ASSERT_TRUE(again.ok() && other.ok());
  EXPECT_TRUE(again->find_value("features.1.block.0.0.weight")->data.equals(m->find_value("features.1.block.0.0.weight")->data));
  EXPECT_FALSE(other->find_value("features.1.block.0.0.weight")->data.equals(m->find_value("features.1.block.0.0.weight")->data));
}

TEST(ZooTest, Errors) {
  EXPECT_TRUE(is_error(train::build_zoo_model("vgg16").status(), StatusCode::kInvalidArgument, "unknown architecture"));
  train::ZooOptions o;
  o.num_classes = 0;
  EXPECT_TRUE(is_error(train::build_zoo_model("resnet18", o).status(), StatusCode::kInvalidArgument, "num_classes=0"));
  o = {};
  o.input_size = 0;
  EXPECT_TRUE(is_error(train::build_zoo_model("resnet18", o).status(), StatusCode::kInvalidArgument, "input_size=0"));
}

}  // namespace
}  // namespace hqp::test
