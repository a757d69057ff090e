// Helpers shared by the fuzz targets (fuzz/*.cpp): a finding is reported by trapping, so that
// libFuzzer (and the replay driver of the normal build) records the input.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hqp::fuzz {

// Counts what the target's inputs came to, printed at exit as
// "hqp-fuzz: <inputs> inputs, <accepted> accepted, <errors> clean errors" (scripts/fuzz.sh and
// docs/RELIABILITY.md's table read it). A crash never reaches the print: it is the finding.
struct Tally {
  uint64_t accepted = 0;
  uint64_t errors = 0;
};
Tally& tally_state();
inline void print_tally() {
  const Tally& t = tally_state();
  std::fprintf(stderr, "hqp-fuzz: %llu inputs, %llu accepted, %llu clean errors\n",
               static_cast<unsigned long long>(t.accepted + t.errors), static_cast<unsigned long long>(t.accepted),
               static_cast<unsigned long long>(t.errors));
}
inline Tally& tally_state() {
  static Tally* state = [] {
    std::atexit(print_tally);
    return new Tally();
  }();
  return *state;
}
// Records one input's outcome: accepted (true) or refused with a clean error (false).
inline void tally(bool accepted) {
  Tally& t = tally_state();
  (accepted ? t.accepted : t.errors) += 1;
}

// A property the reader promises was broken for this input (not a clean error): trap.
[[noreturn]] inline void violated(std::string_view what) {
  std::fprintf(stderr, "fuzz property violated: %.*s\n", static_cast<int>(what.size()), what.data());
  __builtin_trap();
}

// Every error must carry a message and a code other than kInternal (an internal error is
// a broken invariant that the input reached).
inline void check_clean_error(const Status& status) {
  if (status.ok()) return;
  if (status.code() == StatusCode::kInternal) violated("internal error: " + status.message());
  const std::string& message = status.message();
  if (message.empty()) violated("empty error message");
}

// The bytes as an in-memory file (memfd) whose path, /proc/self/fd/N, the file-based readers
// open like any other; closed (and freed) when this goes out of scope.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) {
    fd_ = memfd_create("hqp-fuzz", 0);
    if (fd_ < 0) violated("memfd_create failed");
    size_t done = 0;
    while (done < size) {
      const ssize_t n = write(fd_, data + done, size - done);
      if (n <= 0) violated("memfd write failed");
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace hqp::fuzz
