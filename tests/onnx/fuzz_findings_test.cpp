// The importer's findings of fuzzing (fuzz/onnx_model.cpp; docs/RELIABILITY.md): every model the
// fuzzer found that hqp accepted although ONNX calls it invalid (so that exporting it failed),
// kept as tests/fuzz/corpus/onnx_model/crash-*.onnx, now gets the specific error it deserves -- or,
// where hqp was right and ONNX 1.12 differs, imports and fails export cleanly.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "onnx/export.h"
#include "onnx/import.h"

namespace hqp {
namespace {

std::string corpus_file(const std::string& name) {
  const std::filesystem::path path =
      std::filesystem::path(HQP_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "onnx_model" / name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Refusal {
  const char* file;
  StatusCode code;
  const char* message;
};

TEST(OnnxFuzzFindings, InvalidModelsAreRefusedAtImport) {
  const Refusal cases[] = {
      {"crash-input-without-shape.onnx", StatusCode::kInvalidArgument, "cannot import graph input 'x': no shape"},
      {"crash-ir-version-1-with-opset.onnx", StatusCode::kParseError, "not an ONNX model (ir_version=1, expected >= 3)"},
      {"crash-pool-unknown-width-declared-output.onnx", StatusCode::kInvalidArgument,
       "declared shape [1,3,32,32] differs from computed shape [1,3,96,?]"},
      {"crash-maxpool-ceil-mode-17.onnx", StatusCode::kInvalidArgument, "attribute 'ceil_mode' is 17 (expected 0 or 1)"},
      {"crash-unsqueeze-to-rank-9.onnx", StatusCode::kOutOfRange, "produces rank 9 (expected <= 8)"},
      {"crash-conv-kernel-shape-rank.onnx", StatusCode::kInvalidArgument, "kernel_shape has 1 dims for 2 spatial dims"},
      {"crash-output-rank-unknown.onnx", StatusCode::kInvalidArgument,
       "the rank of graph output 'y' is neither declared nor computable"},
      {"crash-clip6-with-three-inputs.onnx", StatusCode::kInvalidArgument, "has 3 inputs (expected 1..1)"},
      {"crash-mul6-uint8.onnx", StatusCode::kInvalidArgument, "node 'Mul_0': input A 'x' is tensor(uint8) (op Mul at opset 12"},
      {"crash-batchnorm-parameter-lengths-differ.onnx", StatusCode::kInvalidArgument, "parameter 2 has shape [3] (expected [35])"},
      {"crash-unsqueeze-empty-axes.onnx", StatusCode::kInvalidArgument, "attribute 'axes' is an empty list"},
  };
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.file);
    Result<ir::Graph> g = onnx_io::import_model_bytes(corpus_file(c.file), c.file);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), c.code) << g.status().message();
    EXPECT_NE(g.status().message().find(c.message), std::string::npos) << g.status().message();
  }
}

TEST(OnnxFuzzFindings, NewerIrVersionIsWrittenBackAtThisBuildsVersion) {
  // IR 10 (what a recent onnx package writes) imports; the export declares the IR version of the
  // ONNX this build links (8), which its checker accepts, and re-imports.
  Result<ir::Graph> g = onnx_io::import_model_bytes(corpus_file("crash-ir-version-newer-than-checker.onnx"), "ir10");
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->info.ir_version, 10);
  Result<std::string> bytes = onnx_io::export_model_bytes(*g);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  Result<ir::Graph> again = onnx_io::import_model_bytes(*bytes, "ir10-exported");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->info.ir_version, 8);
}

TEST(OnnxFuzzFindings, CeilModeLastWindowFollowsPyTorchAndExportFailsCleanly) {
  // MaxPool ceil_mode, width 20, kernel 3, stride 52: PyTorch and ONNX Runtime drop the last window
  // (it would start beyond the input): width 1. ONNX 1.12's shape inference says 2, so the export
  // check refuses the model -- a clean error, nothing written.
  Result<ir::Graph> g = onnx_io::import_model_bytes(corpus_file("crash-maxpool-ceil-last-window.onnx"), "pool");
  ASSERT_TRUE(g.ok()) << g.status().message();
  const ir::Value& y = *g->outputs()[0];
  ASSERT_TRUE(y.shape.has_value());
  EXPECT_EQ((*y.shape)[3].value, 1);
  Result<std::string> bytes = onnx_io::export_model_bytes(*g);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bytes.status().message().find("the ONNX checker rejects it"), std::string::npos);
}

}  // namespace
}  // namespace hqp
