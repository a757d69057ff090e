// Error paths of the real `hqp` binary on hostile or broken inputs, generated in a temp dir: every
// failure exits with code 1 (2 for usage errors), prints exactly one line on stderr with a
// specific message, never crashes, and `hqp run` / `hqp convert` leave no output file behind.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"

namespace hqp::test {
namespace {

// ---------------------------------------------------------------------------------------------
// Broken models, each run through info, run and convert.

std::string truncated_demo_model() {
  const std::string bytes = read_file(kDemoModel);
  EXPECT_GT(bytes.size(), 1000u);
  return bytes.substr(0, bytes.size() / 2 + 7);
}

std::string random_bytes() {
  std::mt19937 rng(1234);
  std::string bytes(4096, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
  return bytes;
}

// A valid protobuf, but a TensorProto rather than a ModelProto. Unnamed, its fields all decode as
// ModelProto fields of other wire types, so it parses as a ModelProto without a graph.
std::string tensor_instead_of_model() { return serialize(float_tensor("", {2, 3}, std::vector<float>(6, 1.0f))); }

// A named TensorProto (a real input_0.pb): its name lands on ModelProto field 8 (opset_import) and
// does not decode as a message.
std::string named_tensor_instead_of_model() { return read_file(kDemoInput); }

std::string unknown_op_model() {
  onnx::ModelProto m = relu_model();
  m.mutable_graph()->mutable_node(0)->set_op_type("FooBar");
  return serialize(m);
}

// Conv reads 'conv.weight', which nothing defines.
std::string missing_initializer_model() {
  onnx::ModelProto m = relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  add_node(g, "Conv", "conv", {"x", "conv.weight"}, {"y"});
  return serialize(m);
}

// An initializer whose dims multiply past int64: [2^40, 2^40], no data.
std::string overflowing_initializer_model() {
  onnx::ModelProto m = relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  onnx::TensorProto* t = g->add_initializer();
  t->set_name("huge");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(int64_t{1} << 40);
  t->add_dims(int64_t{1} << 40);
  g->clear_node();
  add_node(g, "Add", "add", {"x", "huge"}, {"y"});
  return serialize(m);
}

// y = Relu(a), a = Add(x, y): a cycle through both nodes.
std::string cyclic_model() {
  onnx::ModelProto m = relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  add_node(g, "Add", "add", {"x", "y"}, {"a"});
  add_node(g, "Relu", "relu", {"a"}, {"y"});
  return serialize(m);
}

// A valid model with a valid input file, for the cases where the model is fine.
std::string relu_model_bytes() { return serialize(relu_model()); }

struct BadModel {
  const char* name;
  std::string (*make)();
  const char* message;  // a specific part of the one stderr line
};

const BadModel kBadModels[] = {
    {"truncated", truncated_demo_model, "not a valid protobuf (truncated or corrupt file)"},
    {"random_bytes", random_bytes, "cannot parse ONNX model"},
    {"tensor_proto", tensor_instead_of_model, "': not an ONNX model ("},
    {"named_tensor_proto", named_tensor_instead_of_model, "cannot parse ONNX model"},
    {"unknown_op", unknown_op_model, "unsupported op 'FooBar'"},
    {"missing_initializer", missing_initializer_model,
     "input 'conv.weight' is not a graph input, initializer or output of any node (missing initializer?)"},
    {"overflowing_dims", overflowing_initializer_model, "initializer 'huge'"},
    {"cyclic", cyclic_model, "contains a cycle through node"},
};

enum class Command { kInfo, kRun, kConvert };

struct BadModelCase {
  BadModel model;
  Command command;
};

void PrintTo(const BadModelCase& c, std::ostream* os) {
  *os << c.model.name << " / " << static_cast<int>(c.command);
}

std::string case_name(const ::testing::TestParamInfo<BadModelCase>& info) {
  const char* cmd = info.param.command == Command::kInfo ? "info" : info.param.command == Command::kRun ? "run" : "convert";
  return std::string(info.param.model.name) + "_" + cmd;
}

std::vector<BadModelCase> all_bad_model_cases() {
  std::vector<BadModelCase> out;
  for (const BadModel& m : kBadModels) {
    for (Command c : {Command::kInfo, Command::kRun, Command::kConvert}) out.push_back({m, c});
  }
  return out;
}

class BadModelTest : public ::testing::TestWithParam<BadModelCase> {};

TEST_P(BadModelTest, FailsWithOneLineAndLeavesNothingBehind) {
  const BadModelCase& c = GetParam();
  TempDir dir;
  const std::string model = dir.file("model.onnx");
  const std::string input = dir.file("input_0.pb");
  ASSERT_TRUE(write_file(model, c.model.make()));
  ASSERT_TRUE(write_file(input, serialize(float_tensor("x", {1, 2, 4, 4}, std::vector<float>(32, 1.0f)))));

  ProcessResult r;
  std::string prefix;
  switch (c.command) {
    case Command::kInfo:
      r = run_hqp({"info", model});
      prefix = "hqp info: error: ";
      break;
    case Command::kRun:
      r = run_hqp({"run", model, "-i", input, "-o", dir.file("out")});
      prefix = "hqp run: error: ";
      break;
    case Command::kConvert:
      r = run_hqp({"convert", model, dir.file("converted.onnx")});
      prefix = "hqp convert: error: ";
      break;
  }
  EXPECT_TRUE(is_one_line_error(r, 1, c.model.message));
  EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << r.err;
  EXPECT_NE(r.err.find(model), std::string::npos) << "the message should name the file: " << r.err;
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"input_0.pb", "model.onnx"})) << "an output was left behind";
}

INSTANTIATE_TEST_SUITE_P(Cli, BadModelTest, ::testing::ValuesIn(all_bad_model_cases()), case_name);

TEST(CliErrors, OverflowingDimsSayWhatOverflows) {
  TempDir dir;
  const std::string model = dir.file("model.onnx");
  ASSERT_TRUE(write_file(model, overflowing_initializer_model()));
  const ProcessResult r = run_hqp({"info", model});
  EXPECT_TRUE(is_one_line_error(r, 1, "overflows int64"));
}

TEST(CliErrors, SanityTheReluModelItselfIsValid) {
  // The broken models above are small edits of this one; it must work for them to mean anything.
  TempDir dir;
  const std::string model = dir.file("model.onnx");
  const std::string input = dir.file("input_0.pb");
  ASSERT_TRUE(write_file(model, relu_model_bytes()));
  std::vector<float> x(32);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) - 16.0f;
  ASSERT_TRUE(write_file(input, serialize(float_tensor("x", {1, 2, 4, 4}, x))));
  const ProcessResult r = run_hqp({"run", model, "-i", input, "-o", dir.file("out")});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  EXPECT_EQ(r.err, "");
  const onnx::TensorProto y = read_tensor_proto(dir.file("out/output_0.pb"));
  EXPECT_EQ(y.name(), "y");
  std::vector<float> want(32);
  for (size_t i = 0; i < want.size(); ++i) want[i] = std::max(x[i], 0.0f);
  EXPECT_EQ(float_values(y), want);
}

// ---------------------------------------------------------------------------------------------
// Missing files

TEST(CliErrors, NonexistentModelPath) {
  TempDir dir;
  const std::string missing = dir.file("no_such_model.onnx");
  for (const ProcessResult& r : {run_hqp({"info", missing}),
                                 run_hqp({"run", missing, "-i", kDemoInput, "-o", dir.file("out")}),
                                 run_hqp({"convert", missing, dir.file("converted.onnx")})}) {
    EXPECT_TRUE(is_one_line_error(r, 1, "cannot import ONNX model '" + missing + "'"));
    EXPECT_TRUE(is_one_line_error(r, 1, "No such file or directory"));
  }
  EXPECT_TRUE(dir.list().empty());
}

TEST(CliErrors, ModelPathIsADirectory) {
  TempDir dir;
  const ProcessResult r = run_hqp({"info", dir.path().string()});
  EXPECT_TRUE(is_one_line_error(r, 1, "cannot import ONNX model '" + dir.path().string() + "'"));
}

// ---------------------------------------------------------------------------------------------
// Untrusted text (issue 9): names that are not UTF-8 reach JSON as U+FFFD instead of aborting the
// encoder; control characters in an error message are escaped, so it stays one line.

TEST(CliErrors, NonUtf8ModelPathGivesValidJson) {
  TempDir dir;
  const std::string path = dir.file("model\xFF\xFE.onnx");
  ASSERT_TRUE(write_file(path, read_file(kDemoModel)));
  const ProcessResult r = run_hqp({"info", path, "--json"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);  // throws on invalid UTF-8
  EXPECT_NE(j.dump().find("\xEF\xBF\xBD"), std::string::npos) << "U+FFFD in place of the bad bytes";
}

TEST(CliErrors, ControlCharactersInMessagesAreEscaped) {
  TempDir dir;
  const std::string missing = dir.file("two\nlines\x1b[2J.onnx");
  const ProcessResult r = run_hqp({"info", missing});
  EXPECT_TRUE(is_one_line_error(r, 1, "two\\nlines\\x1B[2J.onnx")) << r.err;
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "no raw escape character on the terminal";
}

TEST(CliErrors, NamesInListingsCarryNoControlCharacters) {
  // Node, metadata and producer names with terminal escapes and line breaks (issue 9: `hqp info`
  // printed them raw). Listings escape them (cli::print -> terminal_text); info's one-line fields
  // escape line breaks too.
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(read_file(kDemoModel)));
  m.set_producer_name("evil\x1b[31mRED\nsecond line");
  onnx::StringStringEntryProto* e = m.add_metadata_props();
  e->set_key("k\x1b]0;title\x07");
  e->set_value("v\nnext");
  m.mutable_graph()->mutable_node(0)->set_name("node\x1b[2Jclear\xc2\x9b");
  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("evil.onnx"), serialize(m)));
  for (const std::vector<std::string>& args : {std::vector<std::string>{"info", dir.file("evil.onnx")},
                                               std::vector<std::string>{"info", dir.file("evil.onnx"), "--dump"}}) {
    const ProcessResult r = run_hqp(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
    EXPECT_EQ(r.out.find('\x07'), std::string::npos);
    EXPECT_EQ(r.out.find("\xc2\x9b"), std::string::npos) << "C1 control (CSI)";
    EXPECT_NE(r.out.find("node\\x1B[2Jclear\\xC2\\x9B"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("producer 'evil\\x1B[31mRED\\nsecond line'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("metadata   k\\x1B]0;title\\x07 = v\\nnext\n"), std::string::npos) << r.out;
  }
}

// Output locations are checked before any work (issue 9: train failed only after the whole run).
TEST(CliErrors, UnwritableOutputsFailBeforeWork) {
  TempDir dir;
  const ProcessResult r = run_hqp({"train", "--arch", "mobilenet_v3_small", "--data", "fashion-mnist", "--epochs",
                                   "1", "-o", "/proc/hqp_cannot_write.onnx"});
  EXPECT_TRUE(is_one_line_error(r, 1, "cannot write model '/proc/hqp_cannot_write.onnx': directory '/proc' is not writable"))
      << r.err;
  const ProcessResult c = run_hqp({"train", "--arch", "mobilenet_v3_small", "--data", "fashion-mnist", "--epochs",
                                   "1", "-o", dir.file("m.onnx"), "--checkpoint-dir", "/proc/hqp_ckpt"});
  EXPECT_TRUE(is_one_line_error(c, 1, "cannot use --checkpoint-dir '/proc/hqp_ckpt': directory '/proc' is not writable"))
      << c.err;
  EXPECT_TRUE(dir.list().empty());
}

// ---------------------------------------------------------------------------------------------
// `hqp run` input errors on the demo model (input 'input' f32[batch,1,28,28]).

class RunInputErrors : public ::testing::Test {
 protected:
  TempDir dir;
  std::string out_dir() const { return dir.file("out"); }
  std::string write_input(const std::string& file, const std::vector<int64_t>& dims) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    const std::string path = dir.file(file);
    EXPECT_TRUE(write_file(path, serialize(float_tensor("input", dims, std::vector<float>(static_cast<size_t>(n), 0.5f)))));
    return path;
  }
  void expect_no_outputs() const {
    std::error_code ec;
    EXPECT_FALSE(std::filesystem::exists(out_dir(), ec)) << "the output directory was created";
  }
};

TEST_F(RunInputErrors, WrongShapeNamesTheInputAndDim) {
  const std::string in = write_input("bad.pb", {1, 1, 28, 27});
  const ProcessResult r = run_hqp({"run", kDemoModel, "-i", in, "-o", out_dir()});
  EXPECT_TRUE(is_one_line_error(r, 1, "input 'input' has shape 1x1x28x27 (expected [batch,1,28,28]; dim 3 must be 28)"));
  expect_no_outputs();
}

TEST_F(RunInputErrors, WrongRank) {
  const std::string in = write_input("bad.pb", {1, 28, 28});
  const ProcessResult r = run_hqp({"run", kDemoModel, "-i", in, "-o", out_dir()});
  EXPECT_TRUE(is_one_line_error(r, 1, "input 'input' has shape 1x28x28 (expected [batch,1,28,28])"));
  expect_no_outputs();
}

TEST_F(RunInputErrors, WrongInputCountListsTheInputs) {
  const ProcessResult r = run_hqp({"run", kDemoModel, "-i", kDemoInput, "-i", kDemoInput, "-o", out_dir()});
  EXPECT_TRUE(is_one_line_error(r, 1, "got 2 inputs (expected 1: input)"));
  expect_no_outputs();
}

TEST_F(RunInputErrors, WrongDtype) {
  onnx::TensorProto t;
  t.set_name("input");
  t.set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : {1, 1, 28, 28}) t.add_dims(d);
  for (int i = 0; i < 28 * 28; ++i) t.add_int64_data(i);
  const std::string in = dir.file("ints.pb");
  ASSERT_TRUE(write_file(in, serialize(t)));
  const ProcessResult r = run_hqp({"run", kDemoModel, "-i", in, "-o", out_dir()});
  EXPECT_TRUE(is_one_line_error(r, 1, "input 'input' has dtype s64 (expected f32)"));
  expect_no_outputs();
}

TEST_F(RunInputErrors, NonexistentInputFile) {
  const std::string missing = dir.file("missing.pb");
  const ProcessResult r = run_hqp({"run", kDemoModel, "-i", missing, "-o", out_dir()});
  EXPECT_TRUE(is_one_line_error(r, 1, "cannot read tensor file '" + missing + "'"));
  expect_no_outputs();
}

TEST_F(RunInputErrors, CorruptInputFile) {
  const std::string in = dir.file("corrupt.pb");
  ASSERT_TRUE(write_file(in, random_bytes()));
  const ProcessResult r = run_hqp({"run", kDemoModel, "-i", in, "-o", out_dir()});
  EXPECT_TRUE(is_one_line_error(r, 1, "tensor file '" + in + "'"));
  expect_no_outputs();
}

TEST_F(RunInputErrors, RawDataOfTheWrongSize) {
  onnx::TensorProto t = float_tensor("input", {1, 1, 28, 28}, std::vector<float>(100, 0.0f));
  const std::string in = dir.file("short.pb");
  ASSERT_TRUE(write_file(in, serialize(t)));
  const ProcessResult r = run_hqp({"run", kDemoModel, "-i", in, "-o", out_dir()});
  EXPECT_TRUE(is_one_line_error(r, 1, "raw_data holds 400 bytes (expected 3136"));
  expect_no_outputs();
}

TEST_F(RunInputErrors, OutputDirectoryIsAFile) {
  const std::string out = dir.file("a_file");
  ASSERT_TRUE(write_file(out, "x"));
  const ProcessResult r = run_hqp({"run", kDemoModel, "-i", kDemoInput, "-o", out});
  EXPECT_TRUE(is_one_line_error(r, 1, "cannot create output directory '" + out + "'"));
  EXPECT_EQ(read_file(out), "x");
}

// ---------------------------------------------------------------------------------------------
// Usage errors: exit code 2, one line.

TEST(CliUsage, MissingArgumentsExit2) {
  const std::vector<std::vector<std::string>> cases = {
      {},                                   // no subcommand
      {"info"},                             // missing model
      {"run", kDemoModel},                  // missing -i and -o
      {"run", kDemoModel, "-i", kDemoInput},  // missing -o
      {"convert", kDemoModel},              // missing output
      {"frobnicate"},                       // unknown subcommand
      {"info", kDemoModel, "--no-such-flag"},
      {"run", kDemoModel, "-i", kDemoInput, "-o", "/tmp", "--engine", "warp"},
      // thread counts past the documented 1..256 (100000 used to crash inside libgomp)
      {"run", kDemoModel, "-i", kDemoInput, "-o", "/tmp", "--threads", "40000"},
      {"eval", kDemoModel, "--data", "fashion-mnist", "--threads", "100000"},
      {"train", "--arch", "tiny_cnn", "--data", "fashion-mnist", "-o", "/tmp/x.onnx", "--threads", "100000"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> argv = {kHqp};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = run_process(argv);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    SCOPED_TRACE("hqp " + joined);
    EXPECT_TRUE(is_one_line_error(r, 2, "hqp: "));
    EXPECT_TRUE(is_one_line_error(r, 2, "(see 'hqp --help')"));
    EXPECT_EQ(r.out, "");
  }
}

TEST(CliUsage, MissingModelArgumentIsNamed) {
  const ProcessResult r = run_hqp({"info"});
  EXPECT_TRUE(is_one_line_error(r, 2, "model is required"));
}

}  // namespace
}  // namespace hqp::test
