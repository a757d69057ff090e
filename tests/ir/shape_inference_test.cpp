// Tests of graph-level type and shape inference (ir::infer_shapes via verify_and_infer) per op,
// with a symbolic batch dim: window geometry of Conv/pools, reshaping ops, the Shape -> Gather ->
// Unsqueeze -> Concat -> Reshape chain, broadcasting, Q/DQ parameters, and the error messages.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "ir/shape_inference.h"
#include "ir/verifier.h"

// Attribute structs are written with designated initializers; GCC 12 warns about the omitted
// (defaulted) members under -Wextra.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace hqp::ir {
namespace {

using test::dims;
using test::is_error;
using test::shape_of;

class ShapeInference : public ::testing::Test {
 protected:
  Graph g;

  Value* input(const std::string& name, Dims d, DType t = DType::kF32) { return g.add_input(name, t, std::move(d)); }
  // f32 initializer of zeros (only its shape matters to inference).
  Value* weight(const std::string& name, Shape s) {
    Result<Tensor> t = Tensor::zeros(DType::kF32, std::move(s));
    EXPECT_TRUE(t.ok());
    return g.add_initializer(name, std::move(t).value());
  }
  Value* init(const std::string& name, Tensor t) { return g.add_initializer(name, std::move(t)); }
  Value* ints(const std::string& name, const std::vector<int64_t>& v) { return init(name, test::s64_vector(v)); }

  // Adds node `name` of `kind` with one fresh output value "<name>_out", made a graph output.
  Value* node(OpKind kind, std::vector<Value*> ins, Attrs attrs, const std::string& name = "node") {
    Value* out = g.add_value(name + "_out");
    g.add_node(kind, name, std::move(ins), {out}, std::move(attrs));
    g.add_output(out);
    return out;
  }
  Value* node(OpKind kind, std::vector<Value*> ins, const std::string& name = "node") {
    return node(kind, std::move(ins), default_attrs(kind), name);
  }
  Status infer() { return verify_and_infer(g); }
};

// ---------------------------------------------------------------------------------------------
// Conv: one table of geometry cases (batch stays symbolic), then the error cases.

struct ConvCase {
  const char* name;
  Dims x;
  Shape w;
  ConvAttrs attrs;
  const char* want;
};

class ConvShape : public ShapeInference, public ::testing::WithParamInterface<ConvCase> {};

TEST_P(ConvShape, OutputShape) {
  const ConvCase& c = GetParam();
  Value* y = node(OpKind::Conv, {input("x", c.x), weight("w", c.w)}, c.attrs, "conv");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y), c.want);
  EXPECT_EQ(y->dtype, DType::kF32);
}

const ConvCase kConvCases[] = {
    {"k3_pad1", dims({"batch", 3, 9, 9}), {8, 3, 3, 3}, {.pads = {1, 1, 1, 1}}, "[batch,8,9,9]"},
    {"no_pad", dims({"batch", 3, 9, 9}), {8, 3, 3, 3}, {}, "[batch,8,7,7]"},
    // floor((9 + 2 - 3) / 2) + 1 = 5
    {"stride2_pad1", dims({"batch", 3, 9, 9}), {8, 3, 3, 3}, {.strides = {2, 2}, .pads = {1, 1, 1, 1}},
     "[batch,8,5,5]"},
    // floor((8 + 2 - 3) / 2) + 1 = 4
    {"stride2_even", dims({"batch", 3, 8, 8}), {8, 3, 3, 3}, {.strides = {2, 2}, .pads = {1, 1, 1, 1}},
     "[batch,8,4,4]"},
    {"groups4", dims({"batch", 8, 7, 7}), {16, 2, 3, 3}, {.group = 4}, "[batch,16,5,5]"},
    {"depthwise_s2", dims({"batch", 8, 7, 7}), {8, 1, 3, 3}, {.strides = {2, 2}, .pads = {1, 1, 1, 1}, .group = 8},
     "[batch,8,4,4]"},
    {"depthwise_multiplier2", dims({"batch", 4, 5, 5}), {8, 1, 3, 3}, {.group = 4}, "[batch,8,3,3]"},
    // SAME: ceil(in / stride) whatever the kernel.
    {"same_upper_s2", dims({"batch", 3, 8, 8}), {4, 3, 3, 3}, {.strides = {2, 2}, .auto_pad = AutoPad::kSameUpper},
     "[batch,4,4,4]"},
    {"same_lower_s2_odd", dims({"batch", 3, 9, 9}), {4, 3, 3, 3},
     {.strides = {2, 2}, .auto_pad = AutoPad::kSameLower}, "[batch,4,5,5]"},
    {"same_upper_s1_k5", dims({"batch", 3, 7, 6}), {4, 3, 5, 5}, {.auto_pad = AutoPad::kSameUpper},
     "[batch,4,7,6]"},
    // VALID: floor((in - k) / s) + 1 = floor(6 / 2) + 1 = 4
    {"valid_s2", dims({"batch", 3, 9, 9}), {4, 3, 3, 3}, {.strides = {2, 2}, .auto_pad = AutoPad::kValid},
     "[batch,4,4,4]"},
    // dilation 2: effective kernel 5
    {"dilation2", dims({"batch", 3, 9, 9}), {4, 3, 3, 3}, {.dilations = {2, 2}}, "[batch,4,5,5]"},
    {"dilation2_pad2", dims({"batch", 3, 9, 9}), {4, 3, 3, 3}, {.dilations = {2, 2}, .pads = {2, 2, 2, 2}},
     "[batch,4,9,9]"},
    {"dilation_h_only", dims({"batch", 3, 9, 9}), {4, 3, 3, 3}, {.dilations = {3, 1}}, "[batch,4,3,7]"},
    // pads [h_begin, w_begin, h_end, w_end] = [0, 1, 2, 3]: H 9+0+2-3+1 = 9, W 10+1+3-3+1 = 12
    {"asymmetric_pads", dims({"batch", 3, 9, 10}), {8, 3, 3, 3}, {.pads = {0, 1, 2, 3}}, "[batch,8,9,12]"},
    {"rect_kernel_stride", dims({"batch", 3, 6, 11}), {8, 3, 1, 5}, {.strides = {1, 3}}, "[batch,8,6,3]"},
    {"kernel_shape_given", dims({"batch", 3, 6, 6}), {8, 3, 3, 3}, {.kernel_shape = {3, 3}}, "[batch,8,4,4]"},
    {"conv1d_s3", dims({"batch", 3, 10}), {8, 3, 3}, {.strides = {3}}, "[batch,8,3]"},
    {"conv3d", dims({"batch", 2, 4, 5, 6}), {3, 2, 2, 2, 2}, {}, "[batch,3,3,4,5]"},
    {"static_batch", dims({2, 3, 5, 5}), {8, 3, 5, 5}, {}, "[2,8,1,1]"},
    // Symbolic spatial dims: the channel count is still known.
    {"symbolic_spatial", dims({"batch", 3, "H", "W"}), {8, 3, 3, 3}, {.pads = {1, 1, 1, 1}}, "[batch,8,?,?]"},
};

INSTANTIATE_TEST_SUITE_P(Cases, ConvShape, ::testing::ValuesIn(kConvCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ShapeInference, ConvSamePadsSplitUpperAndLower) {
  // in 8, k 3, s 2 -> out 4, total pad (4-1)*2 + 3 - 8 = 1: UPPER puts it at the end, LOWER at the start.
  const Shape in = {8, 8};
  const Shape k = {3, 3};
  ConvAttrs upper{.strides = {2, 2}, .auto_pad = AutoPad::kSameUpper};
  ConvAttrs lower{.strides = {2, 2}, .auto_pad = AutoPad::kSameLower};
  Result<WindowGeometry> gu = conv_geometry(upper, in, k);
  Result<WindowGeometry> gl = conv_geometry(lower, in, k);
  HQP_ASSERT_OK(gu.status());
  HQP_ASSERT_OK(gl.status());
  EXPECT_EQ(gu->out, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(gu->pad_begin, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(gu->pad_end, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(gl->out, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(gl->pad_begin, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(gl->pad_end, (std::vector<int64_t>{0, 0}));
  // VALID ignores pads entirely.
  Result<WindowGeometry> gv = conv_geometry({.pads = {5, 5, 5, 5}, .auto_pad = AutoPad::kValid}, in, k);
  HQP_ASSERT_OK(gv.status());
  EXPECT_EQ(gv->out, (std::vector<int64_t>{6, 6}));
  EXPECT_EQ(gv->pad_begin, (std::vector<int64_t>{0, 0}));
}

TEST_F(ShapeInference, ConvChannelMismatch) {
  node(OpKind::Conv, {input("x", dims({"batch", 3, 9, 9})), weight("w", {8, 4, 3, 3})}, ConvAttrs{}, "conv1");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "cannot infer shapes of node 'conv1' (Conv): input has 3 channels but weight [8,4,3,3] with "
                       "group=1 expects 4"));
}

TEST_F(ShapeInference, ConvGroupedChannelMismatch) {
  node(OpKind::Conv, {input("x", dims({"batch", 8, 9, 9})), weight("w", {16, 4, 3, 3})}, ConvAttrs{.group = 4},
       "gconv");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "input has 8 channels but weight [16,4,3,3] with group=4 expects 16"));
}

TEST_F(ShapeInference, ConvOutputChannelsNotDivisibleByGroup) {
  node(OpKind::Conv, {input("x", dims({"batch", 8, 9, 9})), weight("w", {6, 2, 3, 3})}, ConvAttrs{.group = 4});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "output channels 6 not divisible by group 4"));
}

TEST_F(ShapeInference, ConvBiasLengthMismatch) {
  node(OpKind::Conv, {input("x", dims({"batch", 3, 9, 9})), weight("w", {8, 3, 3, 3}), weight("b", {7})},
       ConvAttrs{});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "bias shape [7] does not match output channels 8"));
}

TEST_F(ShapeInference, ConvWeightRankMismatch) {
  node(OpKind::Conv, {input("x", dims({"batch", 3, 9, 9})), weight("w", {8, 3, 3})}, ConvAttrs{});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "weight rank 3 differs from input rank 4"));
}

TEST_F(ShapeInference, ConvKernelLargerThanPaddedInputNamesTheNode) {
  node(OpKind::Conv, {input("x", dims({"batch", 3, 2, 9})), weight("w", {8, 3, 3, 3})}, ConvAttrs{}, "stem");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "cannot infer shapes of node 'stem' (Conv): cannot compute conv geometry: window 3 (dilation 1) "
                       "larger than padded input 2 on spatial dim 0"));
}

TEST_F(ShapeInference, ConvPadsOfWrongLength) {
  node(OpKind::Conv, {input("x", dims({"batch", 3, 9, 9})), weight("w", {8, 3, 3, 3})}, ConvAttrs{.pads = {1, 1}},
       "conv_p");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "node 'conv_p' (Conv): cannot compute conv geometry: pads has 2 entries (expected 4)"));
}

TEST_F(ShapeInference, ConvZeroStride) {
  node(OpKind::Conv, {input("x", dims({"batch", 3, 9, 9})), weight("w", {8, 3, 3, 3})},
       ConvAttrs{.strides = {0, 1}});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "invalid window (kernel=3, stride=0"));
}

TEST_F(ShapeInference, ConvKernelShapeAttributeMustMatchWeight) {
  node(OpKind::Conv, {input("x", dims({"batch", 3, 9, 9})), weight("w", {8, 3, 3, 3})},
       ConvAttrs{.kernel_shape = {5, 5}});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "kernel_shape attribute does not match"));
}

TEST_F(ShapeInference, ConvIntegerInputIsUnsupported) {
  node(OpKind::Conv, {input("x", dims({"batch", 3, 9, 9}), DType::kS8), weight("w", {8, 3, 3, 3})}, ConvAttrs{},
       "qconv");
  EXPECT_TRUE(is_error(infer(), StatusCode::kUnsupported, "node 'qconv' (Conv): input X has dtype s8 (expected f32)"));
}

// ---------------------------------------------------------------------------------------------
// Pools

struct PoolCase {
  const char* name;
  OpKind kind;
  Dims x;
  PoolAttrs attrs;
  const char* want;
};

class PoolShape : public ShapeInference, public ::testing::WithParamInterface<PoolCase> {};

TEST_P(PoolShape, OutputShape) {
  const PoolCase& c = GetParam();
  Value* y = node(c.kind, {input("x", c.x)}, c.attrs, "pool");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y), c.want);
}

const PoolCase kPoolCases[] = {
    // floor((8 - 3) / 2) + 1 = 3; ceil: ceil(5 / 2) + 1 = 4 (the last window starts at 6 < 8)
    {"max_k3s2_floor", OpKind::MaxPool, dims({"batch", 4, 8, 8}), {.kernel_shape = {3, 3}, .strides = {2, 2}},
     "[batch,4,3,3]"},
    {"max_k3s2_ceil", OpKind::MaxPool, dims({"batch", 4, 8, 8}),
     {.kernel_shape = {3, 3}, .strides = {2, 2}, .ceil_mode = 1}, "[batch,4,4,4]"},
    // exact fit: ceil_mode changes nothing
    {"max_k2s2_ceil_exact", OpKind::MaxPool, dims({"batch", 4, 8, 8}),
     {.kernel_shape = {2, 2}, .strides = {2, 2}, .ceil_mode = 1}, "[batch,4,4,4]"},
    // ceil_mode never creates a window that starts past the input and its begin padding (PyTorch):
    // in 5, k 2, s 2, pads 1/1: ceil(5 / 2) + 1 = 4 windows, the 4th would start at 6 - 1 = 5 -> 3
    {"max_ceil_drops_window_in_end_padding", OpKind::MaxPool, dims({"batch", 4, 5, 5}),
     {.kernel_shape = {2, 2}, .strides = {2, 2}, .pads = {1, 1, 1, 1}, .ceil_mode = 1}, "[batch,4,3,3]"},
    // in 6, k 2, s 3: ceil(4 / 3) + 1 = 3 windows, the 3rd would start at 6 = in -> 2
    {"max_ceil_stride_above_kernel", OpKind::MaxPool, dims({"batch", 4, 6, 7}),
     {.kernel_shape = {2, 2}, .strides = {3, 3}, .ceil_mode = 1}, "[batch,4,2,3]"},
    {"avg_k2s2_floor", OpKind::AveragePool, dims({"batch", 4, 7, 7}), {.kernel_shape = {2, 2}, .strides = {2, 2}},
     "[batch,4,3,3]"},
    {"avg_k2s2_ceil", OpKind::AveragePool, dims({"batch", 4, 7, 7}),
     {.kernel_shape = {2, 2}, .strides = {2, 2}, .ceil_mode = 1}, "[batch,4,4,4]"},
    // resnet stem pool: k3 s2 p1 on 112 -> 56
    {"max_resnet_stem", OpKind::MaxPool, dims({"batch", 64, 112, 112}),
     {.kernel_shape = {3, 3}, .strides = {2, 2}, .pads = {1, 1, 1, 1}}, "[batch,64,56,56]"},
    {"max_dilation2", OpKind::MaxPool, dims({"batch", 4, 7, 7}), {.kernel_shape = {2, 2}, .dilations = {2, 2}},
     "[batch,4,5,5]"},
    {"avg_same_upper", OpKind::AveragePool, dims({"batch", 4, 7, 7}),
     {.kernel_shape = {3, 3}, .strides = {2, 2}, .auto_pad = AutoPad::kSameUpper}, "[batch,4,4,4]"},
    {"max_1d", OpKind::MaxPool, dims({"batch", 4, 9}), {.kernel_shape = {3}, .strides = {3}}, "[batch,4,3]"},
    {"max_symbolic_spatial", OpKind::MaxPool, dims({"batch", 4, "H", 8}), {.kernel_shape = {2, 2}},
     "[batch,4,?,7]"},
};

INSTANTIATE_TEST_SUITE_P(Cases, PoolShape, ::testing::ValuesIn(kPoolCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ShapeInference, MaxPoolIndicesOutputIsS64) {
  Value* x = input("x", dims({"batch", 4, 8, 8}));
  Value* y = g.add_value("y");
  Value* idx = g.add_value("idx");
  g.add_node(OpKind::MaxPool, "pool", {x}, {y, idx}, PoolAttrs{.kernel_shape = {2, 2}, .strides = {2, 2}});
  g.add_output(y);
  g.add_output(idx);
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(idx->dtype, DType::kS64);
  EXPECT_EQ(shape_of(idx), "[batch,4,4,4]");
}

TEST_F(ShapeInference, PoolKernelShapeRankMismatch) {
  node(OpKind::MaxPool, {input("x", dims({"batch", 4, 8, 8}))}, PoolAttrs{.kernel_shape = {2}}, "mp");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "node 'mp' (MaxPool): kernel_shape has 1 dims for 2 spatial dims"));
}

TEST_F(ShapeInference, AveragePoolDilationIsUnsupported) {
  node(OpKind::AveragePool, {input("x", dims({"batch", 4, 8, 8}))},
       PoolAttrs{.kernel_shape = {2, 2}, .dilations = {2, 2}});
  EXPECT_TRUE(is_error(infer(), StatusCode::kUnsupported, "AveragePool dilations"));
}

TEST_F(ShapeInference, GlobalAveragePoolKeepsBatchAndChannels) {
  Value* y = node(OpKind::GlobalAveragePool, {input("x", dims({"batch", 512, 7, 7}))});
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y), "[batch,512,1,1]");
}

// ---------------------------------------------------------------------------------------------
// Flatten and Reshape

TEST_F(ShapeInference, FlattenOfPooledFeatures) {
  Value* y = node(OpKind::Flatten, {input("x", dims({"batch", 512, 1, 1}))});
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y), "[batch,512]");
}

TEST_F(ShapeInference, FlattenAxes) {
  Value* x = input("x", dims({2, 3, 4, 5}));
  Value* a0 = node(OpKind::Flatten, {x}, FlattenAttrs{.axis = 0}, "f0");
  Value* a2 = node(OpKind::Flatten, {x}, FlattenAttrs{.axis = 2}, "f2");
  Value* a4 = node(OpKind::Flatten, {x}, FlattenAttrs{.axis = 4}, "f4");
  Value* am1 = node(OpKind::Flatten, {x}, FlattenAttrs{.axis = -1}, "fm1");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(a0), "[1,120]");
  EXPECT_EQ(shape_of(a2), "[6,20]");
  EXPECT_EQ(shape_of(a4), "[120,1]");
  EXPECT_EQ(shape_of(am1), "[24,5]");
}

TEST_F(ShapeInference, FlattenAxisOutOfRange) {
  node(OpKind::Flatten, {input("x", dims({"batch", 512, 1, 1}))}, FlattenAttrs{.axis = 5}, "flat");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "node 'flat' (Flatten): axis 5 out of range for rank 4"));
}

// torch.flatten as exported by old PyTorch: Shape -> Gather(0) -> Unsqueeze -> Concat([_, -1]) -> Reshape.
TEST_F(ShapeInference, ReshapeThroughShapeGatherUnsqueezeConcatResolvesSymbolicBatch) {
  Value* x = input("x", dims({"batch", 512, 1, 1}));
  Value* shape = node(OpKind::Shape, {x}, "shape");
  Value* dim0 = node(OpKind::Gather, {shape, init("zero", Tensor::scalar<int64_t>(0))}, AxisAttrs{.axis = 0},
                     "gather");
  Value* dim0_1d = node(OpKind::Unsqueeze, {dim0, ints("axes0", {0})}, "unsqueeze");
  Value* target = node(OpKind::Concat, {dim0_1d, ints("minus_one", {-1})}, AxisAttrs{.axis = 0, .present = true},
                       "concat");
  Value* y = node(OpKind::Reshape, {x, target}, "reshape");
  HQP_ASSERT_OK(infer());

  EXPECT_EQ(shape_of(shape), "[4]");
  ASSERT_TRUE(shape->shape_value.has_value());
  EXPECT_EQ(dims_to_string(*shape->shape_value), "[batch,512,1,1]");
  EXPECT_EQ(shape_of(dim0), "[]");  // a scalar
  ASSERT_TRUE(dim0->shape_value.has_value());
  EXPECT_EQ(dims_to_string(*dim0->shape_value), "[batch]");
  EXPECT_EQ(shape_of(dim0_1d), "[1]");
  ASSERT_TRUE(target->shape_value.has_value());
  EXPECT_EQ(dims_to_string(*target->shape_value), "[batch,-1]");
  EXPECT_EQ(shape_of(target), "[2]");
  EXPECT_EQ(shape_of(y), "[batch,512]");  // fully resolved: the -1 is 512, the batch stays symbolic
  EXPECT_EQ(y->dtype, DType::kF32);
}

TEST_F(ShapeInference, ReshapeThroughTwoGathersOfStaticAndSymbolicDims) {
  Value* x = input("x", dims({"batch", 32, 7, 7}));
  Value* shape = node(OpKind::Shape, {x}, "shape");
  Value* d0 = node(OpKind::Gather, {shape, ints("i0", {0})}, "g0");   // [1]
  Value* d1 = node(OpKind::Gather, {shape, ints("i1", {1})}, "g1");   // [1]
  Value* target = node(OpKind::Concat, {d0, d1, ints("rest", {-1})}, AxisAttrs{.axis = 0, .present = true}, "cat");
  Value* y = node(OpKind::Reshape, {x, target}, "reshape");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(dims_to_string(*target->shape_value), "[batch,32,-1]");
  EXPECT_EQ(shape_of(y), "[batch,32,49]");
}

TEST_F(ShapeInference, ShapeStartEnd) {
  Value* x = input("x", dims({"batch", 3, 5, 7}));
  Value* tail = node(OpKind::Shape, {x}, ShapeAttrs{.start = 2}, "tail");
  Value* mid = node(OpKind::Shape, {x}, ShapeAttrs{.start = 1, .end = -1}, "mid");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(tail), "[2]");
  EXPECT_EQ(dims_to_string(*tail->shape_value), "[5,7]");
  EXPECT_EQ(dims_to_string(*mid->shape_value), "[3,5]");
  EXPECT_EQ(tail->dtype, DType::kS64);
}

struct ReshapeCase {
  const char* name;
  Dims x;
  std::vector<int64_t> shape;
  int64_t allowzero;
  const char* want;  // output shape, or nullptr when `error` is expected
  const char* error;
};

class ReshapeShape : public ShapeInference, public ::testing::WithParamInterface<ReshapeCase> {};

TEST_P(ReshapeShape, Infers) {
  const ReshapeCase& c = GetParam();
  Value* y = node(OpKind::Reshape, {input("x", c.x), ints("shape", c.shape)}, ReshapeAttrs{.allowzero = c.allowzero},
                  "reshape");
  const Status s = infer();
  if (c.want != nullptr) {
    HQP_ASSERT_OK(s);
    EXPECT_EQ(shape_of(y), c.want);
  } else {
    EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, c.error));
    EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, "node 'reshape' (Reshape)"));
  }
}

const ReshapeCase kReshapeCases[] = {
    {"zero_copies_symbolic_batch", dims({"batch", 3, 4, 5}), {0, -1}, 0, "[batch,60]", nullptr},
    {"zeros_copy_two_dims", dims({"batch", 3, 4, 5}), {0, 0, 20}, 0, "[batch,3,20]", nullptr},
    {"minus_one_static", dims({2, 3, 4}), {-1, 4}, 0, "[6,4]", nullptr},
    {"minus_one_last", dims({2, 3, 4}), {4, -1}, 0, "[4,6]", nullptr},
    {"explicit_static", dims({2, 3, 4}), {4, 3, 2}, 0, "[4,3,2]", nullptr},
    {"add_unit_dims", dims({"batch", 6}), {0, 1, 6, 1}, 0, "[batch,1,6,1]", nullptr},
    // The batch symbol cannot be cancelled when the target drops it: the -1 stays unknown.
    {"minus_one_absorbs_symbol", dims({"batch", 3, 4, 5}), {-1, 60}, 0, "[?,60]", nullptr},
    // allowzero=1: 0 is a real zero-sized dim, not "copy".
    {"allowzero_keeps_zero", dims({2, 0, 5}), {0, 5}, 1, "[0,5]", nullptr},
    {"zero_copies_without_allowzero", dims({2, 0, 5}), {0, 5}, 0, nullptr, "element counts differ (0 vs 10)"},
    {"allowzero_with_minus_one", dims({2, 3, 4}), {0, -1}, 1, nullptr, "allowzero=1 with both 0 and -1"},
    {"two_minus_ones", dims({2, 3, 4}), {-1, -1}, 0, nullptr, "shape has more than one -1"},
    {"not_divisible", dims({2, 3, 4}), {5, -1}, 0, nullptr, "element counts do not divide"},
    {"count_differs", dims({2, 3, 4}), {2, 2, 2}, 0, nullptr, "element counts differ (24 vs 8)"},
    {"invalid_negative", dims({2, 3, 4}), {-2, 12}, 0, nullptr, "shape has invalid dim -2"},
    {"zero_past_rank", dims({2, 3}), {2, 3, 0}, 0, nullptr, "copies dim 2 (0) but the input has rank 2"},
};

INSTANTIATE_TEST_SUITE_P(Cases, ReshapeShape, ::testing::ValuesIn(kReshapeCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ShapeInference, ReshapeWithRuntimeShapeKnowsOnlyTheRank) {
  Value* y = node(OpKind::Reshape, {input("x", dims({"batch", 12})), input("s", dims({3}), DType::kS64)});
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y), "[?,?,?]");
}

TEST_F(ShapeInference, ReshapeShapeMustBeS64) {
  node(OpKind::Reshape, {input("x", dims({2, 6})), init("s", Tensor::from_vector<int32_t>({2}, {3, 4}))});
  EXPECT_TRUE(is_error(infer(), StatusCode::kUnsupported, "shape has dtype s32 (expected s64)"));
}

// ---------------------------------------------------------------------------------------------
// Gemm, MatMul, element-wise broadcasting

TEST_F(ShapeInference, GemmLinearLayer) {
  Value* y = node(OpKind::Gemm, {input("x", dims({"batch", 32})), weight("w", {10, 32}), weight("b", {10})},
                  GemmAttrs{.trans_b = 1});
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y), "[batch,10]");
}

TEST_F(ShapeInference, GemmTransposedA) {
  Value* y = node(OpKind::Gemm, {input("a", dims({32, "batch"})), weight("b", {32, 10}), weight("c", {1, 10})},
                  GemmAttrs{.trans_a = 1});
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y), "[batch,10]");
}

TEST_F(ShapeInference, GemmScalarAndColumnBias) {
  Value* x = input("x", dims({4, 32}));
  Value* y1 = node(OpKind::Gemm, {x, weight("w", {32, 10}), init("c0", Tensor::scalar<float>(1.0f))}, "g1");
  Value* y2 = node(OpKind::Gemm, {x, weight("w2", {32, 10}), weight("c1", {4, 1})}, "g2");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y1), "[4,10]");
  EXPECT_EQ(shape_of(y2), "[4,10]");
}

TEST_F(ShapeInference, GemmInnerDimensionMismatch) {
  node(OpKind::Gemm, {input("x", dims({"batch", 32})), weight("w", {31, 10})}, GemmAttrs{}, "fc");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "node 'fc' (Gemm): inner dimensions differ (A [batch,32] transA=0, B [31,10] transB=0)"));
}

TEST_F(ShapeInference, GemmTransBMismatch) {
  // Without transB a [10, 32] weight does not fit a [batch, 32] input.
  node(OpKind::Gemm, {input("x", dims({"batch", 32})), weight("w", {10, 32})}, GemmAttrs{}, "fc");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "inner dimensions differ"));
}

TEST_F(ShapeInference, GemmBiasDoesNotBroadcast) {
  node(OpKind::Gemm, {input("x", dims({4, 32})), weight("w", {10, 32}), weight("b", {3})}, GemmAttrs{.trans_b = 1});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "do not broadcast"));
}

TEST_F(ShapeInference, GemmBiasLargerThanOutputRows) {
  node(OpKind::Gemm, {input("x", dims({4, 32})), weight("w", {10, 32}), weight("b", {5, 10})},
       GemmAttrs{.trans_b = 1});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "(dim 0: 4 vs 5)"));
}

TEST_F(ShapeInference, GemmRequires2D) {
  node(OpKind::Gemm, {input("x", dims({"batch", 32, 1})), weight("w", {32, 10})});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "A and B must be 2-D (A [batch,32,1], B [32,10])"));
}

struct MatMulCase {
  const char* name;
  Dims a;
  Dims b;
  const char* want;
  const char* error;
};

class MatMulShape : public ShapeInference, public ::testing::WithParamInterface<MatMulCase> {};

TEST_P(MatMulShape, Infers) {
  const MatMulCase& c = GetParam();
  Value* y = node(OpKind::MatMul, {input("a", c.a), input("b", c.b)}, "mm");
  const Status s = infer();
  if (c.want != nullptr) {
    HQP_ASSERT_OK(s);
    EXPECT_EQ(shape_of(y), c.want);
  } else {
    EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, c.error));
    EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, "node 'mm' (MatMul)"));
  }
}

const MatMulCase kMatMulCases[] = {
    {"2d", dims({4, 5}), dims({5, 6}), "[4,6]", nullptr},
    {"batched_a", dims({"batch", 4, 5}), dims({5, 6}), "[batch,4,6]", nullptr},
    {"broadcast_batches", dims({"batch", 1, 4, 5}), dims({3, 5, 6}), "[batch,3,4,6]", nullptr},
    {"vector_b", dims({4, 5}), dims({5}), "[4]", nullptr},
    {"vector_a", dims({5}), dims({5, 6}), "[6]", nullptr},
    {"vector_vector", dims({5}), dims({5}), "[]", nullptr},
    {"symbolic_inner", dims({4, "K"}), dims({"K", 6}), "[4,6]", nullptr},
    {"inner_mismatch", dims({4, 5}), dims({6, 7}), nullptr, "inner dimensions differ (A [4,5], B [6,7])"},
    {"batch_mismatch", dims({2, 4, 5}), dims({3, 5, 6}), nullptr, "do not broadcast (dim 0: 2 vs 3)"},
};

INSTANTIATE_TEST_SUITE_P(Cases, MatMulShape, ::testing::ValuesIn(kMatMulCases),
                         [](const auto& info) { return std::string(info.param.name); });

struct BroadcastCase {
  const char* name;
  Dims a;
  Dims b;
  const char* want;
  const char* error;
};

class AddShape : public ShapeInference, public ::testing::WithParamInterface<BroadcastCase> {};

TEST_P(AddShape, Infers) {
  const BroadcastCase& c = GetParam();
  Value* y = node(OpKind::Add, {input("a", c.a), input("b", c.b)}, "add");
  const Status s = infer();
  if (c.want != nullptr) {
    HQP_ASSERT_OK(s);
    EXPECT_EQ(shape_of(y), c.want);
  } else {
    EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, c.error));
    EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, "node 'add' (Add)"));
  }
}

const BroadcastCase kAddCases[] = {
    {"same", dims({"batch", 3, 4, 5}), dims({"batch", 3, 4, 5}), "[batch,3,4,5]", nullptr},
    {"trailing_vector", dims({"batch", 3, 4, 5}), dims({5}), "[batch,3,4,5]", nullptr},
    {"per_channel", dims({"batch", 3, 4, 5}), dims({3, 1, 1}), "[batch,3,4,5]", nullptr},
    {"both_sides", dims({"batch", 3, 1, 5}), dims({3, 4, 1}), "[batch,3,4,5]", nullptr},
    {"scalar", dims({"batch", 3}), dims({}), "[batch,3]", nullptr},
    {"one_vs_symbol", dims({1, 3}), dims({"batch", 3}), "[batch,3]", nullptr},
    // A static dim wins over a symbol (the symbol must be 1 or equal to it).
    {"symbol_vs_static", dims({"batch", 3}), dims({5, 3}), "[5,3]", nullptr},
    {"two_symbols", dims({"N", 3}), dims({"M", 3}), "[?,3]", nullptr},
    {"mismatch", dims({"batch", 3}), dims({4}), nullptr, "shapes [batch,3] and [4] do not broadcast (dim 1: 3 vs 4)"},
    {"mismatch_inner", dims({2, 3, 4}), dims({2, 5, 4}), nullptr, "(dim 1: 3 vs 5)"},
};

INSTANTIATE_TEST_SUITE_P(Cases, AddShape, ::testing::ValuesIn(kAddCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ShapeInference, AddDtypeMismatch) {
  node(OpKind::Add, {input("a", dims({2})), input("b", dims({2}), DType::kS64)}, "add");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "node 'add' (Add): input dtypes differ (f32 vs s64)"));
}

// ---------------------------------------------------------------------------------------------
// Squeeze, Unsqueeze, Softmax

TEST_F(ShapeInference, SqueezeAxesAttribute) {
  Value* y = node(OpKind::Squeeze, {input("x", dims({"batch", 512, 1, 1}))},
                  AxesAttrs{.axes = std::vector<int64_t>{2, 3}});
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y), "[batch,512]");
}

TEST_F(ShapeInference, SqueezeAxesInputWithNegativeAxis) {
  Value* y = node(OpKind::Squeeze, {input("x", dims({"batch", 512, 1})), ints("axes", {-1})});
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y), "[batch,512]");
}

TEST_F(ShapeInference, SqueezeWithoutAxes) {
  Value* y_static = node(OpKind::Squeeze, {input("x", dims({1, 512, 1, 1}))}, "s1");
  Value* y_sym = node(OpKind::Squeeze, {input("z", dims({"batch", 512, 1}))}, "s2");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y_static), "[512]");
  EXPECT_EQ(shape_of(y_sym), "<rank unknown>");  // the batch may or may not be 1
}

TEST_F(ShapeInference, SqueezeOfANonUnitAxis) {
  node(OpKind::Squeeze, {input("x", dims({"batch", 512, 1, 1}))}, AxesAttrs{.axes = std::vector<int64_t>{1}}, "sq");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "node 'sq' (Squeeze): cannot squeeze axis 1 of size 512"));
}

TEST_F(ShapeInference, SqueezeAxisOutOfRange) {
  node(OpKind::Squeeze, {input("x", dims({"batch", 512, 1, 1}))}, AxesAttrs{.axes = std::vector<int64_t>{4}});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "node 'node' (Squeeze): invalid squeeze axis 4 (expected -4 <= axis < 4)"));
}

TEST_F(ShapeInference, UnsqueezeAxes) {
  Value* x = input("x", dims({"batch", 4}));
  Value* y1 = node(OpKind::Unsqueeze, {x}, AxesAttrs{.axes = std::vector<int64_t>{0, 3}}, "u1");
  Value* y2 = node(OpKind::Unsqueeze, {x, ints("axes", {-1})}, "u2");
  Value* y3 = node(OpKind::Unsqueeze, {x}, AxesAttrs{.axes = std::vector<int64_t>{3, 1}}, "u3");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y1), "[1,batch,4,1]");
  EXPECT_EQ(shape_of(y2), "[batch,4,1]");
  EXPECT_EQ(shape_of(y3), "[batch,1,4,1]");
}

TEST_F(ShapeInference, UnsqueezeRepeatedAxis) {
  node(OpKind::Unsqueeze, {input("x", dims({"batch", 4}))}, AxesAttrs{.axes = std::vector<int64_t>{1, -3}}, "u");
  // -3 in the output rank 4 is axis 1 again.
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "node 'u' (Unsqueeze): axis -3 is repeated"));
}

TEST_F(ShapeInference, UnsqueezeAxisOutOfRange) {
  node(OpKind::Unsqueeze, {input("x", dims({"batch", 4}))}, AxesAttrs{.axes = std::vector<int64_t>{3}});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "invalid unsqueeze axis 3 (expected -3 <= axis < 3)"));
}

TEST_F(ShapeInference, UnsqueezeNeedsAxes) {
  node(OpKind::Unsqueeze, {input("x", dims({"batch", 4}))});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "axes are required"));
}

// Axes given by a runtime input (opset >= 13): only the output rank can be known, and only for
// Unsqueeze with a static axes length.
TEST_F(ShapeInference, AxesKnownOnlyAtRunTime) {
  Value* x = input("x", dims({"batch", 4}));
  Value* y_unsq = node(OpKind::Unsqueeze, {x, input("axes", dims({1}), DType::kS64)}, "unsq");
  Value* y_sq = node(OpKind::Squeeze, {x, input("sq_axes", dims({1}), DType::kS64)}, "sq");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y_unsq), "[?,?,?]");
  EXPECT_EQ(shape_of(y_sq), "<rank unknown>");
}

TEST_F(ShapeInference, RuntimeAxesMustBeS64) {
  node(OpKind::Unsqueeze, {input("x", dims({"batch", 4})), input("axes", dims({1}), DType::kS32)}, "unsq");
  EXPECT_TRUE(is_error(infer(), StatusCode::kUnsupported, "node 'unsq' (Unsqueeze): axes has dtype s32 (expected s64)"));
}

TEST_F(ShapeInference, SoftmaxAxis) {
  Value* x = input("x", dims({"batch", 10}));
  Value* y1 = node(OpKind::Softmax, {x}, SoftmaxAttrs{.axis = 1}, "s1");
  Value* y2 = node(OpKind::Softmax, {x}, SoftmaxAttrs{.axis = -2}, "s2");
  Value* y3 = node(OpKind::Softmax, {x}, SoftmaxAttrs{.axis = 2, .legacy_coerce_2d = true}, "s3");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y1), "[batch,10]");
  EXPECT_EQ(shape_of(y2), "[batch,10]");
  EXPECT_EQ(shape_of(y3), "[batch,10]");
}

TEST_F(ShapeInference, SoftmaxAxisOutOfRange) {
  node(OpKind::Softmax, {input("x", dims({"batch", 10}))}, SoftmaxAttrs{.axis = 2}, "sm");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "node 'sm' (Softmax): axis 2 out of range for rank 2"));
}

TEST_F(ShapeInference, SoftmaxNegativeAxisOutOfRange) {
  node(OpKind::Softmax, {input("x", dims({"batch", 10}))}, SoftmaxAttrs{.axis = -3}, "sm");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "axis -3 out of range for rank 2"));
}

// ---------------------------------------------------------------------------------------------
// QuantizeLinear / DequantizeLinear

TEST_F(ShapeInference, QuantizePerAxis) {
  Value* x = input("x", dims({"batch", 8, 4, 4}));
  Value* scale = weight("scale", {8});
  Value* zp_u8 = init("zp_u8", Tensor::zeros(DType::kU8, {8}).value());
  Value* zp_s8 = init("zp_s8", Tensor::zeros(DType::kS8, {8}).value());
  Value* q_u8 = node(OpKind::QuantizeLinear, {x, scale, zp_u8}, AxisAttrs{.axis = 1, .present = true}, "q1");
  Value* q_s8 = node(OpKind::QuantizeLinear, {x, scale, zp_s8}, AxisAttrs{}, "q2");  // default axis 1
  Value* q_def = node(OpKind::QuantizeLinear, {x, init("s0", Tensor::scalar<float>(0.5f))}, AxisAttrs{}, "q3");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(q_u8->dtype, DType::kU8);
  EXPECT_EQ(q_s8->dtype, DType::kS8);
  EXPECT_EQ(q_def->dtype, DType::kU8);  // no zero point: u8
  EXPECT_EQ(shape_of(q_u8), "[batch,8,4,4]");
}

TEST_F(ShapeInference, QuantizePerAxisScaleLengthMismatch) {
  node(OpKind::QuantizeLinear, {input("x", dims({"batch", 8, 4, 4})), weight("scale", {7})},
       AxisAttrs{.axis = 1, .present = true}, "q");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "node 'q' (QuantizeLinear): per-axis scale has 7 entries but axis 1 has size 8"));
}

TEST_F(ShapeInference, QuantizeZeroPointShapeDiffersFromScale) {
  node(OpKind::QuantizeLinear,
       {input("x", dims({"batch", 8, 4, 4})), weight("scale", {8}), init("zp", Tensor::zeros(DType::kU8, {7}).value())},
       AxisAttrs{.axis = 1, .present = true});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "zero point shape [7] differs from scale shape [8]"));
}

TEST_F(ShapeInference, QuantizeScaleMustBe1D) {
  node(OpKind::QuantizeLinear, {input("x", dims({"batch", 8})), weight("scale", {8, 1})});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "scale must be a scalar or 1-D (shape [8,1])"));
}

TEST_F(ShapeInference, QuantizeS32ZeroPointIsUnsupported) {
  node(OpKind::QuantizeLinear,
       {input("x", dims({"batch", 8})), init("s", Tensor::scalar<float>(1.0f)), init("zp", Tensor::scalar<int32_t>(0))});
  EXPECT_TRUE(is_error(infer(), StatusCode::kUnsupported, "zero point has dtype s32 (expected u8|s8)"));
}

TEST_F(ShapeInference, DequantizePerAxisWeight) {
  Value* wq = init("wq", Tensor::zeros(DType::kS8, {16, 8, 3, 3}).value());
  Value* y = node(OpKind::DequantizeLinear,
                  {wq, weight("scale", {16}), init("zp", Tensor::zeros(DType::kS8, {16}).value())},
                  AxisAttrs{.axis = 0, .present = true}, "dq");
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(y->dtype, DType::kF32);
  EXPECT_EQ(shape_of(y), "[16,8,3,3]");
}

TEST_F(ShapeInference, DequantizePerAxisScaleLengthMismatch) {
  Value* wq = init("wq", Tensor::zeros(DType::kS8, {16, 8, 3, 3}).value());
  node(OpKind::DequantizeLinear, {wq, weight("scale", {15})}, AxisAttrs{.axis = 0, .present = true}, "dq");
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "node 'dq' (DequantizeLinear): per-axis scale has 15 entries but axis 0 has size 16"));
}

TEST_F(ShapeInference, DequantizeNegativeAxisMismatch) {
  Value* wq = init("wq", Tensor::zeros(DType::kU8, {16, 8}).value());
  node(OpKind::DequantizeLinear, {wq, weight("scale", {16})}, AxisAttrs{.axis = -1, .present = true});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "per-axis scale has 16 entries but axis 1 has size 8"));
}

TEST_F(ShapeInference, DequantizeZeroPointDtypeMustMatchInput) {
  Value* wq = init("wq", Tensor::zeros(DType::kS8, {16}).value());
  node(OpKind::DequantizeLinear,
       {wq, init("s", Tensor::scalar<float>(1.0f)), init("zp", Tensor::scalar<uint8_t>(0))});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "zero point dtype u8 differs from input dtype s8"));
}

// ---------------------------------------------------------------------------------------------
// Declared shapes and dtypes of graph values must agree with what the graph computes.

TEST_F(ShapeInference, DeclaredOutputShapeConflict) {
  Value* y = node(OpKind::Relu, {input("x", dims({"batch", 10}))}, "relu");
  y->shape = dims({"batch", 9});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "value 'relu_out': declared shape [batch,9] differs from computed shape [batch,10]"));
}

TEST_F(ShapeInference, DeclaredOutputRankConflict) {
  Value* y = node(OpKind::Relu, {input("x", dims({"batch", 10}))}, "relu");
  y->shape = dims({"batch", 10, 1});
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument, "declared shape [batch,10,1] has rank 3"));
}

TEST_F(ShapeInference, DeclaredSymbolFillsAnUnknownDim) {
  Value* y = node(OpKind::Add, {input("a", dims({"N", 3})), input("b", dims({"M", 3}))}, "add");
  y->shape = dims({"out_batch", 3});
  HQP_ASSERT_OK(infer());
  EXPECT_EQ(shape_of(y), "[out_batch,3]");
}

TEST_F(ShapeInference, DeclaredDtypeConflict) {
  Value* y = node(OpKind::Relu, {input("x", dims({"batch", 10}))}, "relu");
  y->dtype = DType::kS8;
  EXPECT_TRUE(is_error(infer(), StatusCode::kInvalidArgument,
                       "value 'relu_out': declared dtype s8 but node 'relu' produces f32"));
}

}  // namespace
}  // namespace hqp::ir
