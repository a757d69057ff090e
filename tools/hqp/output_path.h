// Output-path checks every command that writes a file runs before it starts work, so that a bad
// -o fails in a second rather than after a training or pruning run.
#pragma once

#include <string>

#include "core/status.h"

namespace hqp::cli {

// kNotFound when the parent directory does not exist; kInvalidArgument when `output` is a
// directory; kIoError when no file can be created in the parent directory (read-only, pseudo or
// foreign file system: probed by creating and removing a file). `what` names the file in messages
// ("model", "report").
Status check_output_path(const std::string& output, const std::string& what = "model");

// The same for a directory a command writes into (checkpoints): when it exists it must be a
// writable directory, otherwise its parent must exist and be writable.
Status check_output_dir(const std::string& dir, const std::string& what);

}  // namespace hqp::cli
