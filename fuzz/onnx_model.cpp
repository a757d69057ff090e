// Fuzz target: ONNX ModelProto bytes -> importer -> verifier + shape inference (import's verify
// option) -> exporter -> importer again. Properties: the importer returns a model or a clean error
// (never a crash or an internal error), and whatever it accepts exports and
// re-imports.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "onnx/export.h"
#include "onnx/import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqp;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Result<ir::Graph> graph = onnx_io::import_model_bytes(bytes, "fuzz.onnx");
  fuzz::tally(graph.ok());
  if (!graph.ok()) {
    fuzz::check_clean_error(graph.status());
    return 0;
  }
  Result<std::string> exported = onnx_io::export_model_bytes(*graph);
  if (!exported.ok()) {
    // The exporter may refuse what it cannot write (e.g. an attribute kind); never crash.
    fuzz::check_clean_error(exported.status());
    return 0;
  }
  Result<ir::Graph> again = onnx_io::import_model_bytes(*exported, "fuzz-reexported.onnx");
  if (!again.ok()) fuzz::violated("an exported model does not re-import: " + again.status().message());
  return 0;
}
