// ONNX backend conformance: every case of the ONNX test data (node, pytorch-converted,
// pytorch-operator, simple) that lies within hqp's scope is imported, run with the reference
// executor on each test_data_set_* and compared with its expected outputs (rtol/atol of the ONNX
// backend test), then exported, re-imported and run again (outputs must be bit-identical).
//
// Scope: every node is a default-domain op of ir/ops.def, the default-domain opset lies in
// [onnx_io::kMinOpset, kMaxOpset], and every tensor element type of the graph interface,
// initializers and Constant values is one hqp has. Cases outside it are counted, not run. A case in
// scope that fails to import is a failure. tests/conformance/known_failures.txt lists the in-scope
// cases that are expected to fail, with the reason; a listed case that passes fails the test.
// This file reads op types with the ONNX protobuf classes only to classify cases and to read the
// names inside *.pb files; everything under test goes through hqp's public import/export API.
#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "common/tensor_compare.h"
#include "common/tolerances.h"
#include "ir/op.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "reference/executor.h"

namespace hqp::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTestDataRoot = HQP_ONNX_TESTDATA_DIR;
constexpr const char* kKnownFailuresPath = HQP_SOURCE_DIR "/tests/conformance/known_failures.txt";
// The suites of the ONNX test data that hold backend test cases (<suite>/<case>/model.onnx).
const std::vector<std::string> kSuites = {"node", "pytorch-converted", "pytorch-operator", "simple"};

enum class Scope { kInScope, kUnsupportedOp, kUnsupportedOpset, kUnsupportedDtype };

const char* scope_name(Scope s) {
  switch (s) {
    case Scope::kInScope: return "in scope";
    case Scope::kUnsupportedOp: return "op outside ops.def";
    case Scope::kUnsupportedOpset: return "opset outside hqp's range";
    case Scope::kUnsupportedDtype: return "element type hqp lacks";
  }
  return "?";
}

struct ConformanceCase {
  std::string id;  // "<suite>/<case>", e.g. "node/test_add"
  fs::path dir;
  Scope scope = Scope::kInScope;
  std::string why;  // what puts it out of scope
};

// gtest prints parameters of failing tests; the id says it all.
void PrintTo(const ConformanceCase& c, std::ostream* os) { *os << c.id; }

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

bool hqp_has_element_type(int32_t onnx_type) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::BOOL: return true;
    default: return false;
  }
}

std::string onnx_type_name(int32_t t) {
  if (!onnx::TensorProto_DataType_IsValid(t)) return "type " + std::to_string(t);
  return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t));
}

// Scope of one model. A model the protobuf classes cannot parse is left in scope: hqp's importer
// must then report the error, and the case fails.
void classify(const fs::path& model_path, ConformanceCase& c) {
  onnx::ModelProto model;
  auto bytes = read_file(model_path);
  if (!bytes || !model.ParseFromString(*bytes)) return;

  std::set<std::string> unknown_ops;
  for (const onnx::NodeProto& n : model.graph().node()) {
    if (!is_default_domain(n.domain())) {
      unknown_ops.insert(n.domain() + "::" + n.op_type());
    } else if (!ir::op_from_name(n.op_type())) {
      unknown_ops.insert(n.op_type());
    }
  }
  if (!unknown_ops.empty()) {
    c.scope = Scope::kUnsupportedOp;
    for (const std::string& op : unknown_ops) c.why += (c.why.empty() ? "" : ", ") + op;
    return;
  }

  std::optional<int64_t> opset;
  for (const onnx::OperatorSetIdProto& o : model.opset_import()) {
    if (is_default_domain(o.domain())) opset = o.version();
  }
  if (!opset || *opset < onnx_io::kMinOpset || *opset > onnx_io::kMaxOpset) {
    c.scope = Scope::kUnsupportedOpset;
    c.why = opset ? "opset " + std::to_string(*opset) : "no default-domain opset";
    return;
  }

  std::set<std::string> bad_types;
  auto check_value_info = [&](const onnx::ValueInfoProto& vi) {
    // Sequence and optional types are not element types; they stay in scope (and fail on import).
    if (vi.type().has_tensor_type() && !hqp_has_element_type(vi.type().tensor_type().elem_type())) {
      bad_types.insert(onnx_type_name(vi.type().tensor_type().elem_type()));
    }
  };
  for (const auto& vi : model.graph().input()) check_value_info(vi);
  for (const auto& vi : model.graph().output()) check_value_info(vi);
  for (const auto& t : model.graph().initializer()) {
    if (!hqp_has_element_type(t.data_type())) bad_types.insert(onnx_type_name(t.data_type()));
  }
  for (const onnx::NodeProto& n : model.graph().node()) {
    for (const onnx::AttributeProto& a : n.attribute()) {
      if (a.has_t() && !hqp_has_element_type(a.t().data_type())) bad_types.insert(onnx_type_name(a.t().data_type()));
    }
  }
  if (!bad_types.empty()) {
    c.scope = Scope::kUnsupportedDtype;
    for (const std::string& t : bad_types) c.why += (c.why.empty() ? "" : ", ") + t;
  }
}

// Every case directory of every suite, classified; computed once per process.
const std::vector<ConformanceCase>& all_cases() {
  static const std::vector<ConformanceCase> cases = [] {
    std::vector<ConformanceCase> out;
    for (const std::string& suite : kSuites) {
      const fs::path suite_dir = fs::path(kTestDataRoot) / suite;
      std::error_code ec;
      if (!fs::is_directory(suite_dir, ec)) continue;
      std::vector<fs::path> dirs;
      for (const auto& e : fs::directory_iterator(suite_dir, ec)) {
        if (e.is_directory() && fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
      }
      std::sort(dirs.begin(), dirs.end());
      for (const fs::path& d : dirs) {
        ConformanceCase c;
        c.id = suite + "/" + d.filename().string();
        c.dir = d;
        classify(d / "model.onnx", c);
        out.push_back(std::move(c));
      }
    }
    return out;
  }();
  return cases;
}

std::vector<ConformanceCase> in_scope_cases() {
  std::vector<ConformanceCase> out;
  for (const ConformanceCase& c : all_cases()) {
    if (c.scope == Scope::kInScope) out.push_back(c);
  }
  return out;
}

// --- known failures -------------------------------------------------------------------------

struct KnownFailure {
  std::string pattern;  // "<suite>/<case>", shell wildcards allowed (fnmatch)
  std::string reason;
  int line = 0;
};

struct KnownFailureList {
  std::vector<KnownFailure> entries;
  std::vector<std::string> errors;  // malformed lines, missing file
};

// Lines "<suite>/<case-pattern>  <reason>"; '#' starts a comment line; blank lines are skipped.
const KnownFailureList& known_failures() {
  static const KnownFailureList list = [] {
    KnownFailureList l;
    std::ifstream f(kKnownFailuresPath);
    if (!f) {
      l.errors.push_back(std::string("cannot open ") + kKnownFailuresPath);
      return l;
    }
    std::string line;
    for (int n = 1; std::getline(f, line); ++n) {
      const size_t start = line.find_first_not_of(" \t");
      if (start == std::string::npos || line[start] == '#') continue;
      const size_t end = line.find_first_of(" \t", start);
      KnownFailure k;
      k.pattern = line.substr(start, end == std::string::npos ? std::string::npos : end - start);
      const size_t reason = end == std::string::npos ? std::string::npos : line.find_first_not_of(" \t", end);
      k.reason = reason == std::string::npos ? "" : line.substr(reason);
      k.line = n;
      if (k.reason.empty()) {
        l.errors.push_back(fmt::format("known_failures.txt:{}: '{}' has no reason", n, k.pattern));
      }
      l.entries.push_back(std::move(k));
    }
    return l;
  }();
  return list;
}

const KnownFailure* find_known_failure(const std::string& id) {
  for (const KnownFailure& k : known_failures().entries) {
    if (fnmatch(k.pattern.c_str(), id.c_str(), 0) == 0) return &k;
  }
  return nullptr;
}

// --- running one case -----------------------------------------------------------------------

struct PbTensor {
  std::string name;  // TensorProto.name, may be empty
  Tensor tensor;
};

// input_<K>.pb / output_<K>.pb files of a data set, in order of K.
std::vector<fs::path> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() <= prefix.size() + 3 || f.rfind(prefix, 0) != 0 || f.substr(f.size() - 3) != ".pb") continue;
    const std::string k = f.substr(prefix.size(), f.size() - prefix.size() - 3);
    if (k.empty() || !std::all_of(k.begin(), k.end(), ::isdigit)) continue;
    found.emplace_back(std::stoi(k), e.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& [k, p] : found) out.push_back(p);
  return out;
}

// Reads the tensors of `files` with hqp's reader; the names come from the TensorProto.
std::optional<std::string> read_pb_tensors(const std::vector<fs::path>& files, std::vector<PbTensor>& out) {
  for (const fs::path& p : files) {
    PbTensor t;
    onnx::TensorProto proto;
    if (auto bytes = read_file(p); bytes && proto.ParseFromString(*bytes)) t.name = proto.name();
    Result<Tensor> r = onnx_io::read_tensor_file(p.string());
    if (!r.ok()) return fmt::format("cannot read {}: {}", p.filename().string(), r.status().message());
    t.tensor = std::move(r).value();
    out.push_back(std::move(t));
  }
  return std::nullopt;
}

// What the test needs from the ModelProto itself: the declared graph inputs in file order and the
// initializer names (old models list initializers among the inputs; hqp drops those).
struct ProtoInterface {
  std::vector<std::string> inputs;
  std::set<std::string> initializers;
};

ProtoInterface proto_interface(const fs::path& model_path) {
  ProtoInterface pi;
  onnx::ModelProto model;
  if (auto bytes = read_file(model_path); bytes && model.ParseFromString(*bytes)) {
    for (const auto& vi : model.graph().input()) pi.inputs.push_back(vi.name());
    for (const auto& t : model.graph().initializer()) pi.initializers.insert(t.name());
  }
  return pi;
}

// Arranges the data set's input tensors in the order of graph.inputs(): by TensorProto name when
// every file names a declared input, else by position (against the runtime inputs, or against the
// file's declared inputs with initializers skipped).
std::optional<std::string> match_inputs(const ir::Graph& graph, const ProtoInterface& pi,
                                        const std::vector<PbTensor>& pbs, std::vector<Tensor>& ordered) {
  const auto& rt = graph.inputs();
  ordered.assign(rt.size(), Tensor());
  std::set<std::string> declared(pi.inputs.begin(), pi.inputs.end());
  for (const ir::Value* v : rt) declared.insert(v->name);
  const bool by_name = !pbs.empty() && std::all_of(pbs.begin(), pbs.end(), [&](const PbTensor& p) {
    return !p.name.empty() && declared.count(p.name) != 0;
  });
  if (by_name) {
    for (const PbTensor& p : pbs) {
      auto it = std::find_if(rt.begin(), rt.end(), [&](const ir::Value* v) { return v->name == p.name; });
      if (it != rt.end()) {
        ordered[static_cast<size_t>(it - rt.begin())] = p.tensor;
      } else if (pi.initializers.count(p.name) == 0) {
        return fmt::format("input file names '{}', which is not a runtime input of the imported graph", p.name);
      }
    }
  } else if (pbs.size() == rt.size()) {
    for (size_t i = 0; i < pbs.size(); ++i) ordered[i] = pbs[i].tensor;
  } else if (pbs.size() == pi.inputs.size()) {
    for (size_t i = 0; i < pbs.size(); ++i) {
      if (pi.initializers.count(pi.inputs[i]) != 0) continue;
      auto it = std::find_if(rt.begin(), rt.end(), [&](const ir::Value* v) { return v->name == pi.inputs[i]; });
      if (it == rt.end()) return fmt::format("declared input '{}' is not an input of the imported graph", pi.inputs[i]);
      ordered[static_cast<size_t>(it - rt.begin())] = pbs[i].tensor;
    }
  } else {
    return fmt::format("{} input files for {} runtime inputs ({} declared)", pbs.size(), rt.size(), pi.inputs.size());
  }
  for (size_t i = 0; i < rt.size(); ++i) {
    if (!ordered[i].defined()) return fmt::format("no input file for graph input '{}'", rt[i]->name);
  }
  return std::nullopt;
}

// Expected outputs in the order of graph.outputs(): by name when every file names an output,
// else by position.
std::optional<std::string> match_outputs(const ir::Graph& graph, const std::vector<PbTensor>& pbs,
                                         std::vector<Tensor>& ordered) {
  const auto& outs = graph.outputs();
  if (pbs.size() != outs.size()) {
    return fmt::format("{} expected-output files for {} graph outputs", pbs.size(), outs.size());
  }
  ordered.assign(outs.size(), Tensor());
  const bool by_name = std::all_of(pbs.begin(), pbs.end(), [&](const PbTensor& p) {
    return std::any_of(outs.begin(), outs.end(), [&](const ir::Value* v) { return v->name == p.name; });
  });
  for (size_t i = 0; i < pbs.size(); ++i) {
    size_t k = i;
    if (by_name) {
      k = static_cast<size_t>(std::find_if(outs.begin(), outs.end(), [&](const ir::Value* v) {
                                return v->name == pbs[i].name;
                              }) - outs.begin());
    }
    ordered[k] = pbs[i].tensor;
  }
  return std::nullopt;
}

// The graph's inputs re-ordered for another graph with the same input names (the re-import).
std::vector<Tensor> inputs_for(const ir::Graph& from, const std::vector<Tensor>& inputs, const ir::Graph& to) {
  std::vector<Tensor> out;
  for (const ir::Value* v : to.inputs()) {
    for (size_t i = 0; i < from.inputs().size(); ++i) {
      if (from.inputs()[i]->name == v->name) out.push_back(inputs[i]);
    }
  }
  return out;
}

// Runs every data set of a case; returns what went wrong (empty when the case passes).
std::vector<std::string> run_case(const ConformanceCase& c) {
  std::vector<std::string> problems;
  const fs::path model_path = c.dir / "model.onnx";
  Result<ir::Graph> imported = onnx_io::import_model_file(model_path.string());
  if (!imported.ok()) return {"import failed: " + imported.status().message()};
  const ir::Graph& graph = *imported;
  const ProtoInterface pi = proto_interface(model_path);

  // Round trip once per case: export, re-import.
  std::optional<ir::Graph> reimported;
  Result<std::string> bytes = onnx_io::export_model_bytes(graph);
  if (!bytes.ok()) {
    problems.push_back("export failed: " + bytes.status().message());
  } else {
    Result<ir::Graph> g2 = onnx_io::import_model_bytes(*bytes, c.id + " (re-import)");
    if (!g2.ok()) {
      problems.push_back("re-import of the exported model failed: " + g2.status().message());
    } else {
      reimported = std::move(g2).value();
    }
  }

  std::vector<fs::path> sets;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(c.dir, ec)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) problems.push_back("no test_data_set_* directory");

  for (const fs::path& set : sets) {
    const std::string where = set.filename().string();
    std::vector<PbTensor> in_pbs, out_pbs;
    if (auto e = read_pb_tensors(numbered_files(set, "input_"), in_pbs)) {
      problems.push_back(where + ": " + *e);
      continue;
    }
    if (auto e = read_pb_tensors(numbered_files(set, "output_"), out_pbs)) {
      problems.push_back(where + ": " + *e);
      continue;
    }
    std::vector<Tensor> inputs, expected;
    if (auto e = match_inputs(graph, pi, in_pbs, inputs)) {
      problems.push_back(where + ": " + *e);
      continue;
    }
    if (auto e = match_outputs(graph, out_pbs, expected)) {
      problems.push_back(where + ": " + *e);
      continue;
    }
    reference::RunOptions ieee;  // op semantics, NaN / Inf inputs included (the CLI refuses those)
    ieee.allow_non_finite = true;
    Result<std::vector<Tensor>> got = reference::run_reference(graph, inputs, ieee);
    if (!got.ok()) {
      problems.push_back(where + ": run failed: " + got.status().message());
      continue;
    }
    for (size_t k = 0; k < expected.size(); ++k) {
      if (auto m = allclose_mismatch((*got)[k], expected[k], kOnnxBackendRtol, kOnnxBackendAtol)) {
        problems.push_back(fmt::format("{}: output '{}': {}", where, graph.outputs()[k]->name, *m));
      }
    }
    if (!reimported) continue;
    Result<std::vector<Tensor>> again = reference::run_reference(*reimported, inputs_for(graph, inputs, *reimported), ieee);
    if (!again.ok()) {
      problems.push_back(where + ": run of the re-imported model failed: " + again.status().message());
      continue;
    }
    if (again->size() != got->size()) {
      problems.push_back(fmt::format("{}: re-imported model has {} outputs (expected {})", where, again->size(),
                                     got->size()));
      continue;
    }
    for (size_t k = 0; k < got->size(); ++k) {
      if (auto m = bitwise_mismatch((*again)[k], (*got)[k])) {
        problems.push_back(fmt::format("{}: output '{}' after export and re-import: {}", where,
                                       graph.outputs()[k]->name, *m));
      }
    }
  }
  return problems;
}

std::string join(const std::vector<std::string>& lines, const char* sep) {
  std::string s;
  for (const std::string& l : lines) s += (s.empty() ? "" : sep) + l;
  return s;
}

// --- tests ----------------------------------------------------------------------------------

class OnnxConformance : public ::testing::TestWithParam<ConformanceCase> {};

TEST_P(OnnxConformance, MatchesExpectedOutputs) {
  const ConformanceCase& c = GetParam();
  const std::vector<std::string> problems = run_case(c);
  if (const KnownFailure* k = find_known_failure(c.id)) {
    if (problems.empty()) {
      ADD_FAILURE() << c.id << " is unexpectedly passing, remove it from known_failures.txt (line " << k->line
                    << ": " << k->pattern << "  " << k->reason << ")";
    } else {
      std::printf("[ KNOWN    ] %s fails as listed (%s): %s\n", c.id.c_str(), k->reason.c_str(),
                  join(problems, "; ").c_str());
    }
    return;
  }
  for (const std::string& p : problems) ADD_FAILURE() << c.id << ": " << p;
}

std::string case_test_name(const ::testing::TestParamInfo<ConformanceCase>& info) {
  std::string s = info.param.id;
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(OnnxTestData, OnnxConformance, ::testing::ValuesIn(in_scope_cases()), case_test_name);
// Without the test data there are no cases; OnnxConformanceSummary then fails with the reason.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OnnxConformance);

// The list stays honest: every entry names in-scope cases and gives a reason.
TEST(OnnxConformanceKnownFailures, EntriesMatchInScopeCases) {
  const KnownFailureList& list = known_failures();
  for (const std::string& e : list.errors) ADD_FAILURE() << e;
  for (const KnownFailure& k : list.entries) {
    bool in_scope = false;
    std::vector<std::string> out_of_scope;
    for (const ConformanceCase& c : all_cases()) {
      if (fnmatch(k.pattern.c_str(), c.id.c_str(), 0) != 0) continue;
      if (c.scope == Scope::kInScope) in_scope = true;
      else out_of_scope.push_back(c.id);
    }
    EXPECT_TRUE(in_scope) << "known_failures.txt:" << k.line << ": '" << k.pattern << "' matches no in-scope case"
                          << (out_of_scope.empty() ? "" : " (out of scope: " + join(out_of_scope, ", ") + ")")
                          << "; remove the entry";
  }
}

// Runs every in-scope case once more and prints the counts. Per-case failures are reported by
// OnnxConformance.*; this test fails only when there is nothing to test.
TEST(OnnxConformanceSummary, Counts) {
  const auto& cases = all_cases();
  ASSERT_FALSE(cases.empty()) << "no ONNX test cases under " << kTestDataRoot << "/{"
                              << join(kSuites, ",") << "}/*/model.onnx; install Debian's libonnx-testdata";
  std::map<Scope, int> by_scope;
  std::map<std::string, int> per_suite_in_scope;
  int passed = 0, known = 0, unexpected_pass = 0;
  std::vector<std::string> failing;
  for (const ConformanceCase& c : cases) {
    ++by_scope[c.scope];
    if (c.scope != Scope::kInScope) continue;
    ++per_suite_in_scope[c.id.substr(0, c.id.find('/'))];
    const bool ok = run_case(c).empty();
    const bool listed = find_known_failure(c.id) != nullptr;
    if (ok && !listed) ++passed;
    if (!ok && listed) ++known;
    if (ok && listed) ++unexpected_pass;
    if (!ok && !listed) failing.push_back(c.id);
  }
  const int in_scope = by_scope[Scope::kInScope];
  ASSERT_GT(in_scope, 0) << "none of the " << cases.size() << " ONNX test cases is within hqp's op set";
  std::printf("ONNX conformance (%s)\n", kTestDataRoot);
  std::printf("  cases            %zu\n", cases.size());
  std::printf("  in scope         %d (", in_scope);
  for (const auto& [suite, n] : per_suite_in_scope) std::printf(" %s %d", suite.c_str(), n);
  std::printf(" )\n");
  std::printf("  passed           %d\n", passed);
  std::printf("  known failures   %d\n", known);
  std::printf("  unexpected pass  %d\n", unexpected_pass);
  std::printf("  failing          %zu%s%s\n", failing.size(), failing.empty() ? "" : ": ", join(failing, ", ").c_str());
  for (Scope s : {Scope::kUnsupportedOp, Scope::kUnsupportedOpset, Scope::kUnsupportedDtype}) {
    std::printf("  out of scope     %d (%s)\n", by_scope[s], scope_name(s));
  }
  for (const ConformanceCase& c : cases) {
    if (c.scope == Scope::kUnsupportedOpset || c.scope == Scope::kUnsupportedDtype) {
      std::printf("    %s: %s (%s)\n", c.id.c_str(), scope_name(c.scope), c.why.c_str());
    }
  }
}

}  // namespace
}  // namespace hqp::test
