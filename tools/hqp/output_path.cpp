#include "output_path.h"

#include <filesystem>

namespace hqp::cli {

Status check_output_path(const std::string& output, const std::string& what) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(output).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    return make_error(StatusCode::kNotFound, "cannot write {} '{}': directory '{}' does not exist", what, output,
                      parent.string());
  }
  if (fs::is_directory(output, ec)) {
    return make_error(StatusCode::kInvalidArgument, "cannot write {} '{}': it is a directory (expected a file name)",
                      what, output);
  }
  return Status();
}

}  // namespace hqp::cli
