// Bounded whole-file reads and the one atomic file write (temp file + fsync + rename) that every
// writer of hqp uses: ONNX models, tensors, checkpoints, reports. POSIX; knows no file format.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hqp {

// Contents of the regular file `path`. Its size is checked against `max_bytes` on the opened file
// before anything is allocated (kOutOfRange naming `limit_name`); kNotFound / kIoError from the OS.
// `context` starts every message, e.g. "cannot import ONNX model 'a.onnx'".
Result<std::string> read_file_bounded(const std::string& path, int64_t max_bytes, std::string_view limit_name,
                                      std::string_view context);

// Writes `bytes` to a new temporary file in the directory of `path` (`path`.tmp.<pid>.<n>, created
// exclusively), flushes it to disk (fsync), renames it over `path` and flushes the directory. On any
// failure before the rename the temporary file is removed and `path` is left as it was; so it is when
// SIGINT, SIGTERM or SIGHUP ends the process during the write (a handler installed on first use,
// for signals still at their default action, removes the live temporary files and re-raises the
// signal). `context` starts every message.
Status write_file_atomic(const std::string& path, std::string_view bytes, std::string_view context);

// The same for writers that can only write to a path of their own (e.g. libtorch archives):
// `write(temp_path)` writes the whole file to `temp_path`, then it is fsynced and renamed over
// `path` as above. A failing (or throwing) `write` leaves `path` as it was and no temporary file behind.
Status write_file_atomic_with(const std::string& path, const std::function<Status(const std::string&)>& write,
                              std::string_view context);

}  // namespace hqp
