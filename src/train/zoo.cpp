// Model zoo builders: torchvision's ResNet (v1.5: stride on the 3x3 conv of bottlenecks),
// MobileNetV2 and MobileNetV3 as IR graphs, with torchvision's module paths as names and its
// initialization (kaiming normal fan_out convs, BN 1/0, Linear per architecture).
#include "train/zoo.h"

#include <cmath>
#include <random>

#include "ir/verifier.h"

namespace hqp::train {

namespace {

using ir::OpKind;
using ir::Value;

constexpr int64_t kOpset = 17;
constexpr const char* kOutputName = "logits";
constexpr float kTorchBnEps = 1e-5f;
constexpr float kTorchBnMomentum = 0.9f;         // ONNX momentum of torch's default 0.1
constexpr float kMobileNetV3BnEps = 1e-3f;
constexpr float kMobileNetV3BnMomentum = 0.99f;  // ONNX momentum of torch's 0.01
constexpr float kClassifierDropout = 0.2f;
constexpr float kLinearInitStd = 0.01f;          // MobileNet classifiers: normal(0, 0.01)
constexpr float kHardSigmoidAlpha = 1.0f / 6.0f;  // torch.nn.Hardsigmoid as exported to ONNX

// How a Linear layer is initialized.
enum class LinearInit {
  kTorchDefault,  // nn.Linear's reset_parameters: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b
  kNormal001,     // normal(0, 0.01) weight, zero bias
};

class Builder {
 public:
  explicit Builder(uint64_t seed) : rng_(seed) {}

  ir::Graph graph;

  Value* input(int64_t channels, int64_t size) {
    return graph.add_input("input", DType::kF32,
                           {ir::Dim::symbolic("N"), ir::Dim::fixed(channels), ir::Dim::fixed(size), ir::Dim::fixed(size)});
  }

  // Conv2d with kaiming_normal_(mode="fan_out", nonlinearity="relu"); bias zero.
  Value* conv(Value* x, const std::string& name, int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups,
              bool bias) {
    const int64_t pad = (k - 1) / 2;
    const float std = std::sqrt(2.0f / static_cast<float>(out * k * k));
    std::vector<Value*> ins = {x, param(name + ".weight", {out, in / groups, k, k}, normal(out * (in / groups) * k * k, std))};
    if (bias) ins.push_back(param(name + ".bias", {out}, std::vector<float>(static_cast<size_t>(out), 0.0f)));
    ir::ConvAttrs a;
    a.kernel_shape = {k, k};
    a.strides = {stride, stride};
    a.pads = {pad, pad, pad, pad};
    a.dilations = {1, 1};
    a.group = groups;
    return node(OpKind::Conv, name, ins, a);
  }

  Value* bn(Value* x, const std::string& name, int64_t c, float eps, float momentum) {
    const size_t n = static_cast<size_t>(c);
    ir::BatchNormAttrs a;
    a.epsilon = eps;
    a.momentum = momentum;
    return node(OpKind::BatchNormalization, name,
                {x, param(name + ".weight", {c}, std::vector<float>(n, 1.0f)),
                 param(name + ".bias", {c}, std::vector<float>(n, 0.0f)),
                 param(name + ".running_mean", {c}, std::vector<float>(n, 0.0f)),
                 param(name + ".running_var", {c}, std::vector<float>(n, 1.0f))},
                a);
  }

  Value* unary(OpKind kind, Value* x, const std::string& name) { return node(kind, name, {x}, ir::default_attrs(kind)); }

  Value* relu6(Value* x, const std::string& name) {
    if (clip_min_ == nullptr) {
      clip_min_ = graph.add_initializer("relu6.min", Tensor::scalar<float>(0.0f));
      clip_max_ = graph.add_initializer("relu6.max", Tensor::scalar<float>(6.0f));
    }
    return node(OpKind::Clip, name, {x, clip_min_, clip_max_}, ir::ClipAttrs{});
  }

  Value* hardsigmoid(Value* x, const std::string& name) {
    ir::HardSigmoidAttrs a;
    a.alpha = kHardSigmoidAlpha;
    a.beta = 0.5f;
    return node(OpKind::HardSigmoid, name, {x}, a);
  }

  Value* binary(OpKind kind, Value* a, Value* b, const std::string& name) {
    return node(kind, name, {a, b}, ir::NoAttrs{});
  }

  Value* maxpool(Value* x, const std::string& name) {
    ir::PoolAttrs a;
    a.kernel_shape = {3, 3};
    a.strides = {2, 2};
    a.pads = {1, 1, 1, 1};
    return node(OpKind::MaxPool, name, {x}, a);
  }

  Value* flatten(Value* x, const std::string& name) { return node(OpKind::Flatten, name, {x}, ir::FlattenAttrs{1}); }

  Value* dropout(Value* x, const std::string& name, float ratio) {
    if (dropout_ratio_ == nullptr) dropout_ratio_ = graph.add_initializer("dropout.ratio", Tensor::scalar<float>(ratio));
    return node(OpKind::Dropout, name, {x, dropout_ratio_}, ir::DropoutAttrs{});
  }

  // Linear(in, out): Gemm with transB = 1, weight [out, in].
  // `value_name`: the output value's name when it differs from the node name (the graph output).
  Value* linear(Value* x, const std::string& name, int64_t in, int64_t out, LinearInit init,
                const std::string& value_name = "") {
    std::vector<float> w, b;
    if (init == LinearInit::kTorchDefault) {
      const float bound = 1.0f / std::sqrt(static_cast<float>(in));
      w = uniform(out * in, bound);
      b = uniform(out, bound);
    } else {
      w = normal(out * in, kLinearInitStd);
      b.assign(static_cast<size_t>(out), 0.0f);
    }
    ir::GemmAttrs a;
    a.trans_b = 1;
    return node(OpKind::Gemm, name, {x, param(name + ".weight", {out, in}, w), param(name + ".bias", {out}, b)}, a,
                value_name);
  }

  ir::Graph finish(Value* logits) {
    graph.add_output(logits);
    graph.info.producer_name = "hqp";
    graph.info.opset_imports = {{"", kOpset}};
    return std::move(graph);
  }

 private:
  Value* node(OpKind kind, const std::string& name, std::vector<Value*> inputs, ir::Attrs attrs,
              const std::string& value_name = "") {
    Value* out = graph.add_value(value_name.empty() ? name : value_name);
    graph.add_node(kind, name, std::move(inputs), {out}, std::move(attrs));
    return out;
  }

  Value* param(const std::string& name, Shape shape, const std::vector<float>& values) {
    return graph.add_initializer(name, Tensor::from_vector<float>(std::move(shape), values));
  }

  std::vector<float> normal(int64_t n, float std) {
    std::normal_distribution<float> dist(0.0f, std);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng_);
    return v;
  }

  std::vector<float> uniform(int64_t n, float bound) {
    std::uniform_real_distribution<float> dist(-bound, bound);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng_);
    return v;
  }

  std::mt19937_64 rng_;
  Value* clip_min_ = nullptr;
  Value* clip_max_ = nullptr;
  Value* dropout_ratio_ = nullptr;
};

// torchvision's _make_divisible(v, 8).
int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t new_v = std::max(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(new_v) < 0.9 * v) new_v += divisor;
  return new_v;
}

// ------------------------------------------------------------------------------------------
// ResNet

Value* basic_block(Builder& b, Value* x, const std::string& p, int64_t in, int64_t planes, int64_t stride) {
  Value* y = b.conv(x, p + ".conv1", in, planes, 3, stride, 1, false);
  y = b.bn(y, p + ".bn1", planes, kTorchBnEps, kTorchBnMomentum);
  y = b.unary(OpKind::Relu, y, p + ".relu");
  y = b.conv(y, p + ".conv2", planes, planes, 3, 1, 1, false);
  y = b.bn(y, p + ".bn2", planes, kTorchBnEps, kTorchBnMomentum);
  Value* identity = x;
  if (stride != 1 || in != planes) {
    identity = b.conv(x, p + ".downsample.0", in, planes, 1, stride, 1, false);
    identity = b.bn(identity, p + ".downsample.1", planes, kTorchBnEps, kTorchBnMomentum);
  }
  y = b.binary(OpKind::Add, y, identity, p + ".add");
  return b.unary(OpKind::Relu, y, p + ".relu_1");
}

Value* bottleneck(Builder& b, Value* x, const std::string& p, int64_t in, int64_t planes, int64_t stride) {
  constexpr int64_t kExpansion = 4;
  Value* y = b.conv(x, p + ".conv1", in, planes, 1, 1, 1, false);
  y = b.bn(y, p + ".bn1", planes, kTorchBnEps, kTorchBnMomentum);
  y = b.unary(OpKind::Relu, y, p + ".relu");
  y = b.conv(y, p + ".conv2", planes, planes, 3, stride, 1, false);
  y = b.bn(y, p + ".bn2", planes, kTorchBnEps, kTorchBnMomentum);
  y = b.unary(OpKind::Relu, y, p + ".relu_1");
  y = b.conv(y, p + ".conv3", planes, planes * kExpansion, 1, 1, 1, false);
  y = b.bn(y, p + ".bn3", planes * kExpansion, kTorchBnEps, kTorchBnMomentum);
  Value* identity = x;
  if (stride != 1 || in != planes * kExpansion) {
    identity = b.conv(x, p + ".downsample.0", in, planes * kExpansion, 1, stride, 1, false);
    identity = b.bn(identity, p + ".downsample.1", planes * kExpansion, kTorchBnEps, kTorchBnMomentum);
  }
  y = b.binary(OpKind::Add, y, identity, p + ".add");
  return b.unary(OpKind::Relu, y, p + ".relu_2");
}

ir::Graph resnet(const ZooOptions& o, const std::vector<int>& blocks, bool use_bottleneck) {
  Builder b(o.seed);
  Value* x = b.input(o.in_channels, o.input_size);
  if (o.small_input) {
    x = b.conv(x, "conv1", o.in_channels, 64, 3, 1, 1, false);
  } else {
    // 7x7 stride 2 pad 3 (k=7 gives pad 3 through (k-1)/2).
    x = b.conv(x, "conv1", o.in_channels, 64, 7, 2, 1, false);
  }
  x = b.bn(x, "bn1", 64, kTorchBnEps, kTorchBnMomentum);
  x = b.unary(OpKind::Relu, x, "relu");
  if (!o.small_input) x = b.maxpool(x, "maxpool");
  const int64_t expansion = use_bottleneck ? 4 : 1;
  int64_t in = 64;
  const int64_t planes[4] = {64, 128, 256, 512};
  for (int layer = 0; layer < 4; ++layer) {
    for (int i = 0; i < blocks[static_cast<size_t>(layer)]; ++i) {
      const std::string p = fmt::format("layer{}.{}", layer + 1, i);
      const int64_t stride = (layer > 0 && i == 0) ? 2 : 1;
      x = use_bottleneck ? bottleneck(b, x, p, in, planes[layer], stride) : basic_block(b, x, p, in, planes[layer], stride);
      in = planes[layer] * expansion;
    }
  }
  x = b.unary(OpKind::GlobalAveragePool, x, "avgpool");
  x = b.flatten(x, "flatten");
  x = b.linear(x, "fc", in, o.num_classes, LinearInit::kTorchDefault, kOutputName);
  return b.finish(x);
}

// ------------------------------------------------------------------------------------------
// MobileNetV2

ir::Graph mobilenet_v2(const ZooOptions& o) {
  Builder b(o.seed);
  Value* x = b.input(o.in_channels, o.input_size);
  auto conv_bn_relu6 = [&](Value* v, const std::string& p, int64_t in, int64_t out, int64_t k, int64_t stride,
                           int64_t groups) {
    v = b.conv(v, p + ".0", in, out, k, stride, groups, false);
    v = b.bn(v, p + ".1", out, kTorchBnEps, kTorchBnMomentum);
    return b.relu6(v, p + ".2");
  };
  int64_t in = make_divisible(32);
  const int64_t last = make_divisible(1280);
  x = conv_bn_relu6(x, "features.0", o.in_channels, in, 3, o.small_input ? 1 : 2, 1);
  struct Setting { int64_t t, c, n, s; };
  const Setting settings[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                              {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int index = 1;
  for (const Setting& s : settings) {
    const int64_t out = make_divisible(static_cast<double>(s.c));
    for (int64_t i = 0; i < s.n; ++i, ++index) {
      const int64_t stride = i == 0 ? s.s : 1;
      const std::string p = fmt::format("features.{}.conv", index);
      const int64_t hidden = static_cast<int64_t>(std::lround(static_cast<double>(in * s.t)));
      Value* y = x;
      int k = 0;
      if (s.t != 1) y = conv_bn_relu6(y, fmt::format("{}.{}", p, k++), in, hidden, 1, 1, 1);
      y = conv_bn_relu6(y, fmt::format("{}.{}", p, k++), hidden, hidden, 3, stride, hidden);
      y = b.conv(y, fmt::format("{}.{}", p, k++), hidden, out, 1, 1, 1, false);
      y = b.bn(y, fmt::format("{}.{}", p, k++), out, kTorchBnEps, kTorchBnMomentum);
      if (stride == 1 && in == out) y = b.binary(OpKind::Add, x, y, fmt::format("features.{}.add", index));
      x = y;
      in = out;
    }
  }
  x = conv_bn_relu6(x, fmt::format("features.{}", index), in, last, 1, 1, 1);
  x = b.unary(OpKind::GlobalAveragePool, x, "avgpool");
  x = b.flatten(x, "flatten");
  x = b.dropout(x, "classifier.0", kClassifierDropout);
  x = b.linear(x, "classifier.1", last, o.num_classes, LinearInit::kNormal001, kOutputName);
  return b.finish(x);
}

// ------------------------------------------------------------------------------------------
// MobileNetV3

struct BneckConf {
  int64_t in, kernel, expanded, out;
  bool se;
  bool hardswish;  // "HS" (else "RE")
  int64_t stride;
};

ir::Graph mobilenet_v3(const ZooOptions& o, bool large) {
  Builder b(o.seed);
  Value* x = b.input(o.in_channels, o.input_size);
  auto conv_bn_act = [&](Value* v, const std::string& p, int64_t in, int64_t out, int64_t k, int64_t stride,
                         int64_t groups, std::optional<bool> hardswish) {
    v = b.conv(v, p + ".0", in, out, k, stride, groups, false);
    v = b.bn(v, p + ".1", out, kMobileNetV3BnEps, kMobileNetV3BnMomentum);
    if (!hardswish) return v;
    return b.unary(*hardswish ? OpKind::HardSwish : OpKind::Relu, v, p + ".2");
  };
  const std::vector<BneckConf> small_conf = {
      {16, 3, 16, 16, true, false, 2},   {16, 3, 72, 24, false, false, 2}, {24, 3, 88, 24, false, false, 1},
      {24, 5, 96, 40, true, true, 2},    {40, 5, 240, 40, true, true, 1},  {40, 5, 240, 40, true, true, 1},
      {40, 5, 120, 48, true, true, 1},   {48, 5, 144, 48, true, true, 1},  {48, 5, 288, 96, true, true, 2},
      {96, 5, 576, 96, true, true, 1},   {96, 5, 576, 96, true, true, 1}};
  const std::vector<BneckConf> large_conf = {
      {16, 3, 16, 16, false, false, 1},   {16, 3, 64, 24, false, false, 2},  {24, 3, 72, 24, false, false, 1},
      {24, 5, 72, 40, true, false, 2},    {40, 5, 120, 40, true, false, 1},  {40, 5, 120, 40, true, false, 1},
      {40, 3, 240, 80, false, true, 2},   {80, 3, 200, 80, false, true, 1},  {80, 3, 184, 80, false, true, 1},
      {80, 3, 184, 80, false, true, 1},   {80, 3, 480, 112, true, true, 1},  {112, 3, 672, 112, true, true, 1},
      {112, 5, 672, 160, true, true, 2},  {160, 5, 960, 160, true, true, 1}, {160, 5, 960, 160, true, true, 1}};
  const std::vector<BneckConf>& conf = large ? large_conf : small_conf;
  const int64_t last_channel = large ? 1280 : 1024;

  x = conv_bn_act(x, "features.0", o.in_channels, conf[0].in, 3, o.small_input ? 1 : 2, 1, true);
  int index = 1;
  for (const BneckConf& c : conf) {
    const std::string p = fmt::format("features.{}.block", index);
    Value* y = x;
    int k = 0;
    if (c.expanded != c.in) y = conv_bn_act(y, fmt::format("{}.{}", p, k++), c.in, c.expanded, 1, 1, 1, c.hardswish);
    y = conv_bn_act(y, fmt::format("{}.{}", p, k++), c.expanded, c.expanded, c.kernel, c.stride, c.expanded, c.hardswish);
    if (c.se) {
      const std::string s = fmt::format("{}.{}", p, k++);
      const int64_t squeeze = make_divisible(static_cast<double>(c.expanded / 4));
      Value* z = b.unary(OpKind::GlobalAveragePool, y, s + ".avgpool");
      z = b.conv(z, s + ".fc1", c.expanded, squeeze, 1, 1, 1, true);
      z = b.unary(OpKind::Relu, z, s + ".activation");
      z = b.conv(z, s + ".fc2", squeeze, c.expanded, 1, 1, 1, true);
      z = b.hardsigmoid(z, s + ".scale_activation");
      y = b.binary(OpKind::Mul, z, y, s + ".mul");
    }
    y = conv_bn_act(y, fmt::format("{}.{}", p, k++), c.expanded, c.out, 1, 1, 1, std::nullopt);
    if (c.stride == 1 && c.in == c.out) y = b.binary(OpKind::Add, y, x, fmt::format("features.{}.add", index));
    x = y;
    ++index;
  }
  const int64_t last_in = conf.back().out;
  x = conv_bn_act(x, fmt::format("features.{}", index), last_in, 6 * last_in, 1, 1, 1, true);
  x = b.unary(OpKind::GlobalAveragePool, x, "avgpool");
  x = b.flatten(x, "flatten");
  x = b.linear(x, "classifier.0", 6 * last_in, last_channel, LinearInit::kNormal001);
  x = b.unary(OpKind::HardSwish, x, "classifier.1");
  x = b.dropout(x, "classifier.2", kClassifierDropout);
  x = b.linear(x, "classifier.3", last_channel, o.num_classes, LinearInit::kNormal001, kOutputName);
  return b.finish(x);
}

}  // namespace

std::vector<std::string> zoo_architectures() {
  return {"resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"};
}

Result<ir::Graph> build_zoo_model(std::string_view arch, const ZooOptions& o) {
  if (o.in_channels < 1 || o.num_classes < 1 || o.input_size < 1) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot build model '{}': sizes must be positive (in_channels={}, num_classes={}, input_size={})",
                      arch, o.in_channels, o.num_classes, o.input_size);
  }
  ir::Graph g;
  if (arch == "resnet18") {
    g = resnet(o, {2, 2, 2, 2}, false);
  } else if (arch == "resnet34") {
    g = resnet(o, {3, 4, 6, 3}, false);
  } else if (arch == "resnet50") {
    g = resnet(o, {3, 4, 6, 3}, true);
  } else if (arch == "mobilenet_v2") {
    g = mobilenet_v2(o);
  } else if (arch == "mobilenet_v3_small") {
    g = mobilenet_v3(o, false);
  } else if (arch == "mobilenet_v3_large") {
    g = mobilenet_v3(o, true);
  } else {
    std::string known;
    for (const std::string& a : zoo_architectures()) known += (known.empty() ? "" : ", ") + a;
    return make_error(StatusCode::kInvalidArgument, "cannot build model '{}': unknown architecture (expected one of {})",
                      arch, known);
  }
  Status s = ir::verify_and_infer(g);
  if (!s.ok()) return s.with_context(fmt::format("cannot build model '{}' (input_size={})", arch, o.input_size));
  return g;
}

}  // namespace hqp::train
