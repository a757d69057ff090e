#include "output_path.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <unistd.h>

namespace hqp::cli {

namespace {

// Creates and removes a probe file in `dir`: what the atomic writer will do there, so a read-only,
// foreign or pseudo file system fails now, not after the run. Returns errno, 0 when writable.
int probe_writable(const std::filesystem::path& dir) {
  const std::string probe = (dir / (".hqp-write-probe." + std::to_string(::getpid()))).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno == EEXIST ? 0 : errno;
  ::close(fd);
  ::unlink(probe.c_str());
  return 0;
}

}  // namespace

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
  if (const int err = probe_writable(parent.empty() ? fs::path(".") : parent); err != 0) {
    return make_error(StatusCode::kIoError, "cannot write {} '{}': directory '{}' is not writable ({})", what, output,
                      parent.empty() ? "." : parent.string(), std::strerror(err));
  }
  return Status();
}

Status check_output_dir(const std::string& dir, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      return make_error(StatusCode::kInvalidArgument, "cannot use {} '{}': it is not a directory", what, dir);
    }
    if (const int err = probe_writable(dir); err != 0) {
      return make_error(StatusCode::kIoError, "cannot use {} '{}': it is not writable ({})", what, dir,
                        std::strerror(err));
    }
    return Status();
  }
  // Created later: its parent must exist and take new entries.
  const fs::path parent = fs::path(dir).lexically_normal().parent_path();
  const fs::path where = parent.empty() ? fs::path(".") : parent;
  if (!fs::is_directory(where, ec)) {
    return make_error(StatusCode::kNotFound, "cannot use {} '{}': directory '{}' does not exist", what, dir,
                      where.string());
  }
  if (const int err = probe_writable(where); err != 0) {
    return make_error(StatusCode::kIoError, "cannot use {} '{}': directory '{}' is not writable ({})", what, dir,
                      where.string(), std::strerror(err));
  }
  return Status();
}

}  // namespace hqp::cli
