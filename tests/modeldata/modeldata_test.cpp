// Model-data binding: hqp.* metadata find/set, value shapes, --mean/--std parsing and validation
// before anything is built, the preprocessing resolution order (--preprocess, model, fallback,
// then --mean/--std), and the val split resolution (flag, hqp.val_split, hqp.val_size, auto).
#include <gtest/gtest.h>

#include "data/data_test_util.h"
#include "data/dataset.h"
#include "modeldata/metadata.h"
#include "modeldata/preprocess.h"
#include "modeldata/splits.h"

namespace hqp::modeldata {
namespace {

// A graph with one input f32 [N, C, 8, 8] (N symbolic) and a logits output [N, 4].
ir::Graph classifier(int64_t channels) {
  ir::Graph g;
  g.add_input("input", DType::kF32,
              ir::Dims{ir::Dim::symbolic("N"), ir::Dim::fixed(channels), ir::Dim::fixed(8), ir::Dim::fixed(8)});
  ir::Value* out = g.add_value("logits");
  out->dtype = DType::kF32;
  out->shape = ir::Dims{ir::Dim::symbolic("N"), ir::Dim::fixed(4)};
  g.add_output(out);
  return g;
}

// 3 gray 8x8 images with pixel values i / 255 (i = sample) and labels 0..2.
data::DatasetPtr tiny_dataset() {
  std::vector<uint8_t> pixels(3 * 64);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i / 64 * 100);
  auto ds = data::U8Dataset::create("tiny", {1, 8, 8}, std::move(pixels), {0, 1, 2}, 3, {});
  EXPECT_TRUE(ds.ok()) << ds.status().message();
  return *ds;
}

TEST(Metadata, FindSetAndShapes) {
  ir::Graph g = classifier(3);
  EXPECT_FALSE(find_metadata(g, kValSplitMetadataKey));
  set_metadata(g, kValSplitMetadataKey, "tail:5");
  set_metadata(g, kValSplitMetadataKey, "tail:6");
  EXPECT_EQ(find_metadata(g, kValSplitMetadataKey), "tail:6");
  EXPECT_EQ(g.info.metadata_props.size(), 1u);
  EXPECT_EQ(value_shape(*g.inputs()[0]), (Shape{-1, 3, 8, 8}));
  EXPECT_EQ(model_channels(g), 3);
  EXPECT_EQ(model_classes(g), 4);
}

TEST(Preprocess, ParseFloatListAndWithNormalize) {
  EXPECT_EQ(*parse_float_list("0.485,0.456/0.406", "--mean"), (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_NE(parse_float_list("0.5,x", "--mean").status().message().find("cannot parse --mean '0.5,x': 'x' is not a number"),
            std::string::npos);
  const data::Pipeline p = *data::Pipeline::parse("center_crop(size=4)|normalize(mean=0.5,std=0.5)");
  EXPECT_EQ(with_normalize(p, {0.1f}, {}).to_string(), "center_crop(size=4x4)|normalize(mean=0.1,std=0.5)");
  EXPECT_EQ(with_normalize(data::Pipeline(), {}, {0.25f}).to_string(), "normalize(mean=0,std=0.25)");
}

TEST(Preprocess, ResolutionOrder) {
  const data::DatasetPtr ds = tiny_dataset();
  ir::Graph g = classifier(1);
  PreprocessRequest r;
  // No flag, no stored pipeline: kNone gives none, kDatasetDefault the dataset's statistics.
  EXPECT_EQ(resolve_preprocessing(r, &g, *ds, "tiny")->to_string(), "");
  r.fallback = PreprocessFallback::kDatasetDefault;
  const std::string dflt = resolve_preprocessing(r, &g, *ds, "tiny")->to_string();
  EXPECT_EQ(dflt, default_pipeline(*ds, "tiny", 1)->to_string());
  EXPECT_NE(dflt.find("normalize(mean=0.392"), std::string::npos) << dflt;  // (0 + 100 + 200) / 3 / 255
  // The model's stored pipeline wins over the fallback; --preprocess wins over the model's.
  set_metadata(g, kPreprocessMetadataKey, "center_crop(size=4)");
  EXPECT_EQ(resolve_preprocessing(r, &g, *ds, "tiny")->to_string(), "center_crop(size=4x4)");
  r.preprocess = "";
  EXPECT_EQ(resolve_preprocessing(r, &g, *ds, "tiny")->to_string(), "");
  // --mean/--std last.
  r.preprocess.reset();
  r.mean = "0.5";
  r.std = "0.25";
  EXPECT_EQ(resolve_preprocessing(r, &g, *ds, "tiny")->to_string(), "center_crop(size=4x4)|normalize(mean=0.5,std=0.25)");
  // Gray data for a 3-channel model without a model: want_channels.
  PreprocessRequest gray;
  gray.fallback = PreprocessFallback::kDatasetDefault;
  gray.want_channels = 3;
  EXPECT_EQ(resolve_preprocessing(gray, nullptr, *ds, "tiny")->to_string().rfind("gray_to_rgb", 0), 0u);
}

TEST(Preprocess, BadFlagsFailBeforeAnythingIsBuilt) {
  PreprocessRequest r;
  r.std = "0.5,0";
  EXPECT_EQ(check_preprocess_request(r).message(), "cannot use --std '0.5,0': std=0 (expected > 0)");
  r.std = "";
  r.mean = "abc";
  EXPECT_NE(check_preprocess_request(r).message().find("cannot parse --mean 'abc'"), std::string::npos);
  r.mean = "";
  r.preprocess = "no_such_step";
  EXPECT_NE(check_preprocess_request(r).message().find("cannot use the preprocessing of --preprocess"), std::string::npos);
  r.preprocess = "hflip";
  EXPECT_TRUE(check_preprocess_request(r).ok());
}

TEST(Splits, ValSplitResolution) {
  ir::Graph g = classifier(1);
  EXPECT_EQ(*resolve_val_split(std::nullopt, nullptr), data::ValSplit::random(data::kAutoValSize));
  EXPECT_EQ(*resolve_val_split(std::nullopt, &g), data::ValSplit::random(data::kAutoValSize));
  set_metadata(g, kValSizeMetadataKey, "32");
  EXPECT_EQ(*resolve_val_split(std::nullopt, &g), data::ValSplit::random(32));
  set_metadata(g, kValSplitMetadataKey, "tail:7");
  EXPECT_EQ(*resolve_val_split(std::nullopt, &g), data::ValSplit::tail(7));
  EXPECT_EQ(*resolve_val_split(data::ValSplit::random(3, 1), &g), data::ValSplit::random(3, 1));
  set_metadata(g, kValSplitMetadataKey, "tail:x");
  EXPECT_EQ(resolve_val_split(std::nullopt, &g).status().code(), StatusCode::kParseError);
  ir::Graph h = classifier(1);
  set_metadata(h, kValSizeMetadataKey, "many");
  EXPECT_NE(resolve_val_split(std::nullopt, &h).status().message().find("'many' is not a sample count"),
            std::string::npos);
}

TEST(Splits, ModelFitsChecks) {
  const data::DatasetPtr ds = tiny_dataset();
  ir::Graph g = classifier(1);
  EXPECT_TRUE(check_classifier_io(g, "evaluate", "model 'g'").ok());
  EXPECT_TRUE(check_model_fits(g, "evaluate", "model 'g'", {1, 8, 8}, *ds).ok());
  const Status wrong = check_model_fits(g, "evaluate", "model 'g'", {1, 4, 4}, *ds);
  EXPECT_NE(wrong.message().find("height x width=4x4, expected 8x8"), std::string::npos) << wrong.message();
  ir::Graph three = classifier(3);
  EXPECT_NE(check_model_fits(three, "train", "model 't'", {1, 8, 8}, *ds).message().find("channels=1, expected 3"),
            std::string::npos);
}

TEST(Splits, ImageFoldersDecodeToTheModelsChannelsAndFlatFoldersHaveNoTestSet) {
  // Issue 9: image folders were always decoded to RGB (a 1-channel model could not read them) and
  // a flat <class>/<image> folder was refused by every command that opens a test split.
  test::TempDir dir;
  for (int i = 0; i < 4; ++i) {
    test::write_png(dir.path() / (i < 2 ? "cat" : "dog") / ("x" + std::to_string(i) + ".png"),
                    test::pattern_image(i, 8, 8, 3));
  }
  DataRequest request;
  request.source = dir.path().string();
  request.val_split = data::ValSplit::random(1);
  ir::Graph gray = classifier(1);
  ir::Graph rgb = classifier(3);
  EXPECT_EQ(image_channels_for(&gray), 1);
  EXPECT_EQ(image_channels_for(&rgb), 3);
  EXPECT_EQ(image_channels_for(nullptr), 3);
  auto luma = open_model_split(request, &gray, data::Split::kTest);
  ASSERT_TRUE(luma.ok()) << luma.status().message();
  EXPECT_EQ((*luma)->sample_shape(), (Shape{1, 8, 8}));
  EXPECT_EQ((*luma)->size(), 4);
  auto color = open_model_split(request, &rgb, data::Split::kTest);
  ASSERT_TRUE(color.ok()) << color.status().message();
  EXPECT_EQ((*color)->sample_shape(), (Shape{3, 8, 8}));
  request.image_channels = 3;  // --image-channels overrides the model
  auto forced = open_model_split(request, &gray, data::Split::kTest);
  ASSERT_TRUE(forced.ok()) << forced.status().message();
  EXPECT_EQ((*forced)->sample_shape(), (Shape{3, 8, 8}));
  request.image_channels.reset();
  // Training commands: train + val from the folder, no test set (it would be the same images).
  auto splits = open_training_data(request, &gray);
  ASSERT_TRUE(splits.ok()) << splits.status().message();
  EXPECT_EQ(splits->train->size(), 3);
  ASSERT_NE(splits->val, nullptr);
  EXPECT_EQ(splits->val->size(), 1);
  EXPECT_EQ(splits->test, nullptr);
  EXPECT_EQ(splits->train->sample_shape(), (Shape{1, 8, 8}));
}

}  // namespace
}  // namespace hqp::modeldata
