// Test helper: runs a program with posix_spawn and captures its stdout, stderr and exit status.
// Test-only (used by tests/cli); not a general process library. Linux/POSIX.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace hqp::test {

struct ProcessResult {
  bool spawned = false;    // false: posix_spawn itself failed (see spawn_error)
  std::string spawn_error;
  bool exited = false;     // true: normal exit with exit_code; false: killed by term_signal
  int exit_code = -1;
  int term_signal = 0;
  std::string out;         // everything written to stdout
  std::string err;         // everything written to stderr

  // "exit 1" / "signal 11 (Segmentation fault)", for assertion messages.
  std::string describe() const {
    if (!spawned) return "not spawned: " + spawn_error;
    if (exited) return "exit " + std::to_string(exit_code);
    return "signal " + std::to_string(term_signal) + " (" + strsignal(term_signal) + ")";
  }
};

// Fills r.exited / exit_code / term_signal from a waitpid status.
inline void set_status(ProcessResult& r, int status) {
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.term_signal = WTERMSIG(status);
  }
}

// Runs argv[0] (a path; no PATH lookup) with argv, stdin from /dev/null, and waits for it.
// Both pipes are drained concurrently with poll(), so a chatty child cannot deadlock.
inline ProcessResult run_process(const std::vector<std::string>& argv) {
  ProcessResult r;
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    r.spawn_error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    r.spawn_error = std::string("posix_spawn '") + argv[0] + "': " + std::strerror(rc);
    return r;
  }
  r.spawned = true;

  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  set_status(r, status);
  return r;
}

// Runs argv[0] with argv (stdin, stdout and stderr on /dev/null) and kills it with SIGKILL as soon
// as `ready()` returns true (polled every 20 ms) -- a hard kill mid-work, as an
// OOM killer or a power cut would do. Returns how the process ended: term_signal SIGKILL when the
// kill landed, exited when it finished (or failed) first.
template <typename Ready>
ProcessResult run_process_killed_when(const std::vector<std::string>& argv, Ready ready) {
  ProcessResult r;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    r.spawn_error = std::string("posix_spawn '") + argv[0] + "': " + std::strerror(rc);
    return r;
  }
  r.spawned = true;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return r;
    if (ready()) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    usleep(20000);
  }
  set_status(r, status);
  return r;
}

}  // namespace hqp::test
