// POSIX implementation of bounded reads and atomic (temp file + rename) writes.
#include "core/file_io.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hqp {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Closes a file descriptor on scope exit.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() { close(); }
  int get() const { return fd_; }
  // Returns close()'s errno (0 on success); idempotent.
  int close() {
    if (fd_ < 0) return 0;
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

}  // namespace

Result<std::string> read_file_bounded(const std::string& path, int64_t max_bytes, std::string_view limit_name,
                                      std::string_view context) {
  FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    const StatusCode code = err == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError;
    return make_error(code, "{}: cannot open file: {}", context, errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return make_error(StatusCode::kIoError, "{}: cannot stat file: {}", context, errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(StatusCode::kIoError, "{}: not a regular file", context);
  }
  const int64_t size = static_cast<int64_t>(st.st_size);
  if (size > max_bytes) {
    return make_error(StatusCode::kOutOfRange, "{}: file is {} bytes ({}={})", context, size, limit_name, max_bytes);
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(StatusCode::kIoError, "{}: read failed: {}", context, errno_text(errno));
    if (n == 0) {
      return make_error(StatusCode::kIoError, "{}: file shrank while reading (read {} of {} bytes)", context, done,
                        size);
    }
    done += static_cast<size_t>(n);
  }
  return bytes;
}

namespace {

// Temporary files being written right now, for the SIGINT / SIGTERM / SIGHUP handler: a user who
// stops hqp (Ctrl-C, kill) mid-write gets no `OUT.tmp.<pid>.<n>` litter. Fixed slots and atomics
// only, so the handler is async-signal-safe (it reads the slots and calls unlink).
constexpr int kTempSlots = 32;
constexpr size_t kTempPathMax = 4096;
char g_temp_paths[kTempSlots][kTempPathMax];
std::atomic<int> g_temp_state[kTempSlots];  // 0 free, 1 being filled, 2 live

extern "C" void remove_temps_and_die(int sig) {
  for (int i = 0; i < kTempSlots; ++i) {
    if (g_temp_state[i].load() == 2) ::unlink(g_temp_paths[i]);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);  // the default action: the exit status still says which signal ended the process
}

// Installs the handler once for each signal whose action is still the default (a program that
// handles or ignores a signal itself keeps its choice).
void install_temp_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      if (::sigaction(sig, nullptr, &old) != 0 || (old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) {
        continue;
      }
      struct sigaction sa {};
      sa.sa_handler = remove_temps_and_die;
      sigemptyset(&sa.sa_mask);
      ::sigaction(sig, &sa, nullptr);
    }
  });
}

// Registers a temporary file for removal on a fatal signal while it lives (RAII). When all slots
// are taken or the path is too long the file is simply not registered.
class TempRegistration {
 public:
  explicit TempRegistration(const std::string& path) {
    install_temp_cleanup();
    if (path.size() >= kTempPathMax) return;
    for (int i = 0; i < kTempSlots; ++i) {
      int expected = 0;
      if (g_temp_state[i].compare_exchange_strong(expected, 1)) {
        std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
        g_temp_state[i].store(2);
        slot_ = i;
        return;
      }
    }
  }
  TempRegistration(const TempRegistration&) = delete;
  TempRegistration& operator=(const TempRegistration&) = delete;
  ~TempRegistration() {
    if (slot_ >= 0) g_temp_state[slot_].store(0);
  }

 private:
  int slot_ = -1;
};

// Creates `path`.tmp.<pid>.<n> exclusively; returns its descriptor and name.
Result<std::pair<int, std::string>> create_temp(const std::string& path, std::string_view context) {
  static std::atomic<uint64_t> counter{0};
  std::string temp;
  int raw_fd = -1;
  // O_EXCL on a name unique to this process and call; retry on the (unlikely) leftover of another run.
  for (int attempt = 0; attempt < 100 && raw_fd < 0; ++attempt) {
    temp = fmt::format("{}.tmp.{}.{}", path, static_cast<long>(::getpid()), counter.fetch_add(1));
    raw_fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (raw_fd < 0 && errno != EEXIST) break;
  }
  if (raw_fd < 0) {
    return make_error(StatusCode::kIoError, "{}: cannot create temporary file '{}': {}", context, temp,
                      errno_text(errno));
  }
  return std::pair<int, std::string>(raw_fd, temp);
}

// fsync + close `fd` (of `temp`), then rename `temp` over `path`; removes `temp` on failure.
Status commit_temp(FdGuard& fd, const std::string& temp, const std::string& path, std::string_view context) {
  if (::fsync(fd.get()) != 0) {
    const int err = errno;
    fd.close();
    ::unlink(temp.c_str());
    return make_error(StatusCode::kIoError, "{}: flushing '{}' failed: {}", context, temp, errno_text(err));
  }
  if (const int err = fd.close(); err != 0) {
    ::unlink(temp.c_str());
    return make_error(StatusCode::kIoError, "{}: closing '{}' failed: {}", context, temp, errno_text(err));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return make_error(StatusCode::kIoError, "{}: renaming '{}' to '{}' failed: {}", context, temp, path,
                      errno_text(err));
  }
  // The rename itself is durable once the directory entry is on disk.
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  FdGuard dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0) {
    return make_error(StatusCode::kIoError, "{}: flushing directory '{}' failed: {}", context, dir,
                      errno_text(errno));
  }
  return Status::ok_status();
}

}  // namespace

Status write_file_atomic(const std::string& path, std::string_view bytes, std::string_view context) {
  HQP_ASSIGN_OR_RETURN(auto created, create_temp(path, context));
  const std::string temp = created.second;
  const TempRegistration registered(temp);
  FdGuard fd(created.first);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      fd.close();
      ::unlink(temp.c_str());
      return make_error(StatusCode::kIoError, "{}: writing '{}' failed: {}", context, temp, errno_text(err));
    }
    done += static_cast<size_t>(n);
  }
  return commit_temp(fd, temp, path, context);
}

Status write_file_atomic_with(const std::string& path, const std::function<Status(const std::string&)>& write,
                              std::string_view context) {
  HQP_ASSIGN_OR_RETURN(auto created, create_temp(path, context));
  const std::string temp = created.second;
  const TempRegistration registered(temp);
  FdGuard(created.first).close();  // the writer opens the path itself
  Status written;
  try {
    written = write(temp);
  } catch (const std::exception& e) {
    written = Status(StatusCode::kIoError, e.what());
  } catch (...) {
    written = Status(StatusCode::kIoError, "the writer threw an unknown exception");
  }
  if (!written.ok()) {
    ::unlink(temp.c_str());
    return written.with_context(std::string(context));
  }
  FdGuard fd(::open(temp.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return make_error(StatusCode::kIoError, "{}: cannot reopen '{}': {}", context, temp, errno_text(err));
  }
  return commit_temp(fd, temp, path, context);
}

}  // namespace hqp
