// onnx.TensorProto file I/O: round trips for every dtype, typed-field decoding, malformed files,
// and the atomic-write guarantee (no partial or stray files on failure).
#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "onnx_test_util.h"

namespace hqp {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/hqp_tensor_io_" + name; }

TEST(OnnxTensorIo, RoundTripEveryDtype) {
  const std::vector<Tensor> tensors = {
      Tensor::from_vector<float>({2, 3}, {1.5f, -2.0f, 0.0f, 3.25f, -0.0f, 1e-30f}),
      Tensor::from_vector<uint8_t>({5}, {0, 1, 127, 128, 255}),
      Tensor::from_vector<int8_t>({2, 2}, {-128, -1, 0, 127}),
      Tensor::from_vector<int32_t>({3}, {INT32_MIN, 0, INT32_MAX}),
      Tensor::from_vector<int64_t>({1, 2}, {INT64_MIN, INT64_MAX}),
      Tensor::from_vector<bool>({3}, {true, false, true}),
      Tensor::scalar<float>(42.0f),
      Tensor::zeros(DType::kF32, {0, 3}).value(),
  };
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    SCOPED_TRACE(std::string(dtype_name(t.dtype())) + " " + shape_to_string(t.shape()));
    const std::string path = temp_path(std::to_string(i) + ".pb");
    ASSERT_TRUE(onnx_io::write_tensor_file(t, "tensor_" + std::to_string(i), path).ok());
    Result<Tensor> back = onnx_io::read_tensor_file(path);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_TRUE(back->equals(t));
    onnx::TensorProto proto;
    std::string bytes;
    {
      std::FILE* f = std::fopen(path.c_str(), "rb");
      ASSERT_NE(f, nullptr);
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.append(buf, n);
      std::fclose(f);
    }
    ASSERT_TRUE(proto.ParseFromString(bytes));
    EXPECT_EQ(proto.name(), "tensor_" + std::to_string(i));
    EXPECT_TRUE(proto.has_raw_data());
    std::remove(path.c_str());
  }
}

TEST(OnnxTensorIo, TypedFields) {
  onnx::TensorProto f;
  f.set_data_type(onnx::TensorProto::FLOAT);
  f.add_dims(2);
  f.add_float_data(1.0f);
  f.add_float_data(-3.0f);
  Result<Tensor> tf = onnx_io::tensor_from_bytes(test::serialize(f), "f.pb");
  ASSERT_TRUE(tf.ok()) << tf.status().message();
  EXPECT_TRUE(tf->equals(Tensor::from_vector<float>({2}, {1.0f, -3.0f})));

  onnx::TensorProto i8;
  i8.set_data_type(onnx::TensorProto::INT8);
  i8.add_dims(3);
  for (int v : {-128, 0, 127}) i8.add_int32_data(v);
  Result<Tensor> t8 = onnx_io::tensor_from_bytes(test::serialize(i8), "i8.pb");
  ASSERT_TRUE(t8.ok()) << t8.status().message();
  EXPECT_TRUE(t8->equals(Tensor::from_vector<int8_t>({3}, {-128, 0, 127})));

  onnx::TensorProto u8 = i8;
  u8.set_data_type(onnx::TensorProto::UINT8);
  u8.clear_int32_data();
  for (int v : {0, 200, 255}) u8.add_int32_data(v);
  Result<Tensor> tu8 = onnx_io::tensor_from_bytes(test::serialize(u8), "u8.pb");
  ASSERT_TRUE(tu8.ok()) << tu8.status().message();
  EXPECT_TRUE(tu8->equals(Tensor::from_vector<uint8_t>({3}, {0, 200, 255})));

  onnx::TensorProto b;
  b.set_data_type(onnx::TensorProto::BOOL);
  b.add_dims(2);
  b.add_int32_data(1);
  b.add_int32_data(0);
  Result<Tensor> tb = onnx_io::tensor_from_bytes(test::serialize(b), "b.pb");
  ASSERT_TRUE(tb.ok()) << tb.status().message();
  EXPECT_TRUE(tb->equals(Tensor::from_vector<bool>({2}, {true, false})));

  onnx::TensorProto s32;
  s32.set_data_type(onnx::TensorProto::INT32);
  s32.add_int32_data(-7);  // scalar: no dims
  Result<Tensor> t32 = onnx_io::tensor_from_bytes(test::serialize(s32), "s32.pb");
  ASSERT_TRUE(t32.ok()) << t32.status().message();
  EXPECT_TRUE(t32->equals(Tensor::scalar<int32_t>(-7)));

  onnx::TensorProto s64;
  s64.set_data_type(onnx::TensorProto::INT64);
  s64.add_dims(1);
  s64.add_int64_data(INT64_MIN);
  Result<Tensor> t64 = onnx_io::tensor_from_bytes(test::serialize(s64), "s64.pb");
  ASSERT_TRUE(t64.ok()) << t64.status().message();
  EXPECT_TRUE(t64->equals(Tensor::from_vector<int64_t>({1}, {INT64_MIN})));
}

TEST(OnnxTensorIo, MalformedFiles) {
  Result<Tensor> missing = onnx_io::read_tensor_file(temp_path("does_not_exist.pb"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  onnx::TensorProto t;
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(16);
  t.set_raw_data(std::string(64, '\x01'));
  const std::string bytes = test::serialize(t);
  Result<Tensor> cut = onnx_io::tensor_from_bytes(std::string_view(bytes).substr(0, bytes.size() - 5), "cut.pb");
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kParseError);
  EXPECT_NE(cut.status().message().find("cannot parse tensor file 'cut.pb': not a valid protobuf"), std::string::npos);

  t.set_data_type(onnx::TensorProto::DOUBLE);
  Result<Tensor> dbl = onnx_io::tensor_from_bytes(test::serialize(t), "double.pb");
  ASSERT_FALSE(dbl.ok());
  EXPECT_EQ(dbl.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(dbl.status().message().find("unsupported data type DOUBLE"), std::string::npos);

  Result<Tensor> empty = onnx_io::tensor_from_bytes("", "empty.pb");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
}

TEST(OnnxTensorIo, ReadsBackendTestData) {
  const std::string dir = std::string(HQP_ONNX_TESTDATA_DIR) + "/node/test_relu/test_data_set_0/";
  if (!fs::exists(dir)) GTEST_SKIP() << "no ONNX test data at " << dir;
  Result<Tensor> in = onnx_io::read_tensor_file(dir + "input_0.pb");
  Result<Tensor> out = onnx_io::read_tensor_file(dir + "output_0.pb");
  ASSERT_TRUE(in.ok()) << in.status().message();
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(in->shape(), out->shape());
  for (int64_t i = 0; i < in->numel(); ++i) {
    EXPECT_EQ(out->data<float>()[i], std::max(in->data<float>()[i], 0.0f));
  }
}

TEST(OnnxTensorIo, AtomicWriteIntoMissingDirectoryLeavesNothing) {
  const fs::path dir = fs::path(::testing::TempDir()) / "hqp_no_such_dir_for_atomic_write";
  fs::remove_all(dir);
  const std::string path = (dir / "t.pb").string();
  Status s = onnx_io::write_tensor_file(Tensor::scalar<float>(1.0f), "t", path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("cannot write tensor file '" + path + "'"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(dir));

  Result<ir::Graph> g = test::import_proto(test::make_relu_model());
  ASSERT_TRUE(g.ok());
  Status m = onnx_io::export_model_file(*g, (dir / "m.onnx").string());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.code(), StatusCode::kIoError);
  EXPECT_FALSE(fs::exists(dir));
}

TEST(OnnxTensorIo, AtomicWriteReplacesAndLeavesNoTemporaries) {
  const fs::path dir = fs::path(::testing::TempDir()) / "hqp_atomic_write_dir";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "t.pb").string();
  ASSERT_TRUE(onnx_io::write_tensor_file(Tensor::scalar<int64_t>(1), "t", path).ok());
  ASSERT_TRUE(onnx_io::write_tensor_file(Tensor::from_vector<int64_t>({2}, {2, 3}), "t", path).ok());
  Result<Tensor> back = onnx_io::read_tensor_file(path);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->equals(Tensor::from_vector<int64_t>({2}, {2, 3})));
  // A failing export (undefined tensor) must not touch the existing file.
  EXPECT_FALSE(onnx_io::write_tensor_file(Tensor(), "t", path).ok());
  EXPECT_TRUE(onnx_io::read_tensor_file(path)->equals(*back));
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "t.pb");
  }
  EXPECT_EQ(files, 1u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hqp
