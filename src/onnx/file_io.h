// Bounded whole-file reads and atomic file writes for the ONNX importer and exporter.
// Internal to src/onnx; knows nothing about ONNX itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hqp::onnx_io::detail {

// Contents of the regular file `path`. Its size is checked against `max_bytes` on the opened file
// before anything is allocated (kOutOfRange naming `limit_name`); kNotFound / kIoError from the OS.
// `context` starts every message, e.g. "cannot import ONNX model 'a.onnx'".
Result<std::string> read_file_bounded(const std::string& path, int64_t max_bytes, std::string_view limit_name,
                                      std::string_view context);

// Writes `bytes` to a new temporary file in the directory of `path`, flushes it and renames it over
// `path`. On any failure the temporary file is removed and `path` is left as it was.
Status write_file_atomic(const std::string& path, std::string_view bytes, std::string_view context);

}  // namespace hqp::onnx_io::detail
