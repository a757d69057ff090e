// Output-path checks every command that writes a file runs before it starts work, so that a bad
// -o fails in a second rather than after a training or pruning run.
#pragma once

#include <string>

#include "core/status.h"

namespace hqp::cli {

// kNotFound when the parent directory does not exist; kInvalidArgument when `output` is a
// directory. `what` names the file in messages ("model", "report").
Status check_output_path(const std::string& output, const std::string& what = "model");

}  // namespace hqp::cli
