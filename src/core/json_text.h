// The one way hqp turns nlohmann::json into text (stdout, reports, checkpoints, model metadata).
// Names that reach JSON come from outside (model paths, node and metadata names, class folders)
// and need not be UTF-8; nlohmann's default dump() aborts on such bytes (issue 9). Here every
// invalid UTF-8 sequence becomes U+FFFD instead. Header-only: only code that already uses
// nlohmann-json includes it (hqp_core itself does not link it).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace hqp {

// `j` as JSON text (`indent` < 0: one line), invalid UTF-8 in any string replaced by U+FFFD.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hqp
