// Transform pipeline: the text format (round trip, canonical form, errors) and each step against
// hand-computed values (torch.nn.functional.interpolate / torchvision conventions).
#include "data/transform.h"

#include <gtest/gtest.h>

#include <set>

#include "data_test_util.h"

namespace hqp::data {
namespace {

using test::error_of;

// Bilinear weights are exact binary fractions in these tests; float rounding of a few products.
constexpr float kResizeAbsTol = 1e-6f;

Tensor arange_image(int64_t c, int64_t h, int64_t w) {
  std::vector<float> v(static_cast<size_t>(c * h * w));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return Tensor::from_vector<float>({c, h, w}, v);
}

Tensor apply_ok(const Pipeline& p, const Tensor& img, TransformMode mode = TransformMode::kEval, uint64_t seed = 0) {
  Rng rng(seed);
  auto r = p.apply(img, mode, rng);
  EXPECT_TRUE(r.ok()) << error_of(r);
  return r.ok() ? *r : Tensor();
}

std::vector<float> values(const Tensor& t) {
  return std::vector<float>(t.span<float>().begin(), t.span<float>().end());
}

TEST(PipelineText, RoundTripAndCanonicalForm) {
  const std::string canonical =
      "resize(size=36x40)|resize(size=32)|center_crop(size=30x30)|random_crop(size=28x28,pad=4)|hflip(p=0.25)|"
      "gray_to_rgb|normalize(mean=0.485/0.456/0.406,std=0.229/0.224/0.225)";
  auto p = Pipeline::parse(canonical);
  ASSERT_TRUE(p.ok()) << error_of(p);
  EXPECT_EQ(p->steps().size(), 7u);
  EXPECT_EQ(p->to_string(), canonical);
  auto again = Pipeline::parse(p->to_string());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *p);
  // Short forms and whitespace normalize to the canonical text.
  auto loose =
      Pipeline::parse(" center_crop( size = 30 ) | random_crop(size=28) | hflip | normalize(mean=0.5,std=0.25) ");
  ASSERT_TRUE(loose.ok()) << error_of(loose);
  EXPECT_EQ(loose->to_string(),
            "center_crop(size=30x30)|random_crop(size=28x28,pad=0)|hflip(p=0.5)|normalize(mean=0.5,std=0.25)");
  // Empty text is the identity pipeline.
  auto empty = Pipeline::parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(empty->to_string(), "");
  // Builders print the same text.
  Pipeline built;
  built.random_crop(28, 28, 2).hflip().normalize({0.286f}, {0.353f});
  EXPECT_EQ(built.to_string(), "random_crop(size=28x28,pad=2)|hflip(p=0.5)|normalize(mean=0.286,std=0.353)");
  EXPECT_EQ(*Pipeline::parse(built.to_string()), built);
}

TEST(PipelineText, Errors) {
  const std::pair<const char*, const char*> cases[] = {
      {"blur(size=3)", "unknown step name 'blur' (expected one of resize, center_crop"},
      {"resize", "missing argument 'size'"},
      {"resize(size=0x4)", "bad size '0x4'"},
      {"resize(size=abc)", "bad size 'abc'"},
      {"center_crop(size=3,size=4)", "argument 'size' given twice"},
      {"random_crop(size=3,pad=-1)", "bad pad '-1'"},
      {"hflip(p=1.5)", "bad probability '1.5'"},
      {"hflip(q=0.5)", "unknown argument 'q' (expected p)"},
      {"gray_to_rgb(x=1)", "unknown argument 'x' (expected none)"},
      {"normalize(mean=0.5)", "missing argument 'std'"},
      {"normalize(mean=0.5,std=0)", "bad std value '0'"},
      {"normalize(mean=0.5/x,std=1)", "bad mean value 'x'"},
      {"normalize(mean=nan,std=1)", "bad mean value 'nan'"},
      {"resize(size=4", "missing ')' at the end"},
      {"hflip||gray_to_rgb", "empty step"},
      {"resize(size)", "argument 'size' is not key=value"},
  };
  for (const auto& [text, want] : cases) {
    auto p = Pipeline::parse(text);
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(error_of(p).find(want), std::string::npos) << text << " -> " << error_of(p);
    EXPECT_NE(error_of(p).find(std::string("cannot parse transform pipeline '") + text + "'"), std::string::npos);
  }
}

TEST(Transforms, ResizeBilinearUpsampleHandComputed) {
  // [[0, 1], [2, 3]] -> 4x4, torch interpolate(bilinear, align_corners=False).
  Pipeline p;
  p.resize(4, 4);
  const Tensor out = apply_ok(p, Tensor::from_vector<float>({1, 2, 2}, {0, 1, 2, 3}));
  ASSERT_EQ(out.shape(), (Shape{1, 4, 4}));
  const std::vector<float> want = {0,    0.25f, 0.75f, 1,    0.5f, 0.75f, 1.25f, 1.5f,
                                   1.5f, 1.75f, 2.25f, 2.5f, 2,    2.25f, 2.75f, 3};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(values(out)[i], want[i], kResizeAbsTol) << i;
}

TEST(Transforms, ResizeBilinearDownsampleAndShorterSide) {
  // 4x4 arange -> 2x2: each output is the mean of a 2x2 block (source coordinate 0.5 and 2.5).
  Pipeline p;
  p.resize(2, 2);
  const Tensor out = apply_ok(p, arange_image(1, 4, 4));
  const std::vector<float> want = {2.5f, 4.5f, 10.5f, 12.5f};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(values(out)[i], want[i], kResizeAbsTol) << i;
  // Shorter side: 5x8 -> size 3 -> 3 x floor(3*8/5)=4; 9x6 -> 4 x 3.
  Pipeline s;
  s.resize_shorter(3);
  EXPECT_EQ(*s.output_shape({2, 5, 8}), (Shape{2, 3, 4}));
  EXPECT_EQ(*s.output_shape({2, 9, 6}), (Shape{2, 4, 3}));
  EXPECT_EQ(apply_ok(s, arange_image(2, 5, 8)).shape(), (Shape{2, 3, 4}));
  // Same size: values unchanged.
  Pipeline same;
  same.resize(3, 5);
  EXPECT_EQ(values(apply_ok(same, arange_image(2, 3, 5))), values(arange_image(2, 3, 5)));
}

TEST(Transforms, CenterCropOffsetsMatchTorchvision) {
  // torchvision: top = round((H - h) / 2) with Python's round (ties to even).
  struct Case {
    int64_t in, out, top;
  };
  for (const Case& c : {Case{5, 3, 1}, Case{4, 3, 0}, Case{6, 3, 2}, Case{8, 3, 2}, Case{7, 4, 2}, Case{3, 3, 0}}) {
    Pipeline p;
    p.center_crop(c.out, c.out);
    const Tensor img = arange_image(1, c.in, c.in);
    const Tensor out = apply_ok(p, img);
    ASSERT_EQ(out.shape(), (Shape{1, c.out, c.out}));
    EXPECT_EQ(out.data<float>()[0], static_cast<float>(c.top * c.in + c.top)) << c.in << "->" << c.out;
  }
  // Larger than the image: zero padding, the odd extra row/column at the bottom/right.
  Pipeline p;
  p.center_crop(3, 4);
  const Tensor out = apply_ok(p, Tensor::from_vector<float>({1, 2, 2}, {1, 2, 3, 4}));
  EXPECT_EQ(values(out), (std::vector<float>{0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0}));
}

TEST(Transforms, RandomCropTrainCoversAllOffsetsEvalIsCentered) {
  Pipeline p;
  p.random_crop(4, 4, 2);
  const Tensor img = arange_image(1, 4, 4);
  // Eval: center crop of the padded image = the image itself.
  EXPECT_EQ(values(apply_ok(p, img)), values(img));
  // Train: every output is a 4x4 window at offsets in [-2, 2]^2, all 25 of them appear.
  std::set<std::pair<int64_t, int64_t>> seen;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    const Tensor out = apply_ok(p, img, TransformMode::kTrain, seed);
    bool matched = false;
    for (int64_t top = -2; top <= 2 && !matched; ++top) {
      for (int64_t left = -2; left <= 2 && !matched; ++left) {
        std::vector<float> want(16);
        crop_f32(img.data<float>(), 1, 4, 4, want.data(), 4, 4, top, left);
        if (want == values(out)) matched = true, seen.insert({top, left});
      }
    }
    EXPECT_TRUE(matched) << seed;
  }
  EXPECT_EQ(seen.size(), 25u);
  // Too large for the padded image.
  Pipeline big;
  big.random_crop(9, 9, 2);
  EXPECT_NE(error_of(big.output_shape({1, 4, 4})).find("crop 9x9 is larger than the padded image 8x8"),
            std::string::npos);
}

TEST(Transforms, HorizontalFlip) {
  const Tensor img = Tensor::from_vector<float>({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  Pipeline always, never;
  always.hflip(1.0);
  never.hflip(0.0);
  EXPECT_EQ(values(apply_ok(always, img, TransformMode::kTrain)), (std::vector<float>{3, 2, 1, 6, 5, 4}));
  EXPECT_EQ(values(apply_ok(always, img, TransformMode::kEval)), values(img));
  EXPECT_EQ(values(apply_ok(never, img, TransformMode::kTrain)), values(img));
  // p = 0.5 flips about half of the samples.
  Pipeline half;
  half.hflip(0.5);
  int flips = 0;
  for (uint64_t seed = 0; seed < 1000; ++seed)
    flips += values(apply_ok(half, img, TransformMode::kTrain, seed))[0] == 3;
  EXPECT_GT(flips, 430);
  EXPECT_LT(flips, 570);
}

TEST(Transforms, GrayToRgbAndNormalize) {
  Pipeline p;
  p.gray_to_rgb().normalize({0.5f, 1.0f, 0.0f}, {0.5f, 2.0f, 4.0f});
  const Tensor out = apply_ok(p, Tensor::from_vector<float>({1, 1, 2}, {0.0f, 1.0f}));
  ASSERT_EQ(out.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(values(out), (std::vector<float>{-1.0f, 1.0f, -0.5f, 0.0f, 0.0f, 0.25f}));
  // Three channels pass gray_to_rgb unchanged; two channels cannot.
  Pipeline g;
  g.gray_to_rgb();
  EXPECT_EQ(*g.output_shape({3, 4, 4}), (Shape{3, 4, 4}));
  EXPECT_NE(error_of(g.output_shape({2, 4, 4})).find("channels=2 (expected 1 or 3)"), std::string::npos);
  // Three means on one channel.
  Pipeline n;
  n.normalize({0.1f, 0.2f, 0.3f}, {1.0f});
  EXPECT_NE(error_of(n.output_shape({1, 4, 4})).find("mean has 3 and std has 1 values (expected 1 or channels=1 each)"),
            std::string::npos);
  Rng rng(0);
  EXPECT_FALSE(n.apply(arange_image(1, 4, 4), TransformMode::kEval, rng).ok());
}

TEST(Transforms, InputUnchangedAndShapesAgree) {
  auto p =
      Pipeline::parse("resize(size=10)|random_crop(size=9x7,pad=1)|hflip(p=1)|gray_to_rgb|normalize(mean=0.1,std=2)");
  ASSERT_TRUE(p.ok());
  const Tensor img = arange_image(1, 12, 10);
  const Tensor copy = img.clone();
  for (TransformMode mode : {TransformMode::kEval, TransformMode::kTrain}) {
    const Tensor out = apply_ok(*p, img, mode, 7);
    EXPECT_EQ(out.shape(), *p->output_shape(img.shape()));
    EXPECT_TRUE(img.equals(copy));
  }
  // Same rng seed, same result.
  EXPECT_TRUE(apply_ok(*p, img, TransformMode::kTrain, 3).equals(apply_ok(*p, img, TransformMode::kTrain, 3)));
}

}  // namespace
}  // namespace hqp::data
