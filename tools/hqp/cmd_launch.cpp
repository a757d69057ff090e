// `hqp launch -n N [--master-port P] [--timeout S] -- CMD ARGS...` starts N local workers of a
// data-parallel job, as torchrun does on one machine: each child gets WORLD_SIZE=N, RANK=r,
// LOCAL_RANK=r, MASTER_ADDR=127.0.0.1 and MASTER_PORT (a free port unless given) in its
// environment; "hqp" as CMD means this executable. The launcher waits for all of them. When one
// fails (non-zero exit or a signal) it says which rank and how, gives the others --timeout seconds
// to end on their own (their collectives fail as soon as the peer is gone), then terminates them,
// and exits with status 1. SIGINT / SIGTERM to the launcher go to every child. Unless set already,
// OMP_NUM_THREADS is the machine's cores / N (at least 1), as torchrun does, so that N workers
// with default thread counts do not oversubscribe the cores.
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "commands.h"

namespace hqp::cli {

namespace {

struct LaunchOptions {
  int workers = 2;
  int master_port = 0;  // 0: pick a free one
  double timeout_s = 30.0;
  std::vector<std::string> command;
};

volatile sig_atomic_t g_forward_signal = 0;
void on_signal(int sig) { g_forward_signal = sig; }

// A port nobody listens on now (the kernel's choice for an ephemeral bind).
Result<int> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return make_error(StatusCode::kIoError, "cannot pick a master port: socket: {}", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    return make_error(StatusCode::kIoError, "cannot pick a master port: {}", err);
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "ended";
}

Status run_launch(const LaunchOptions& o) {
  if (o.command.empty()) {
    return make_error(StatusCode::kInvalidArgument, "nothing to launch: give the command after '--' (hqp launch -n 2 -- hqp train ...)");
  }
  int port = o.master_port;
  if (port == 0) {
    HQP_ASSIGN_OR_RETURN(port, free_port());
  }

  std::vector<std::string> args = o.command;
  if (args[0] == "hqp") {
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) args[0] = std::string(self, static_cast<size_t>(n));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  const long threads_per_worker = std::max(1L, (cores > 0 ? cores : 1) / o.workers);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t launcher = ::getpid();
  std::vector<pid_t> pids(static_cast<size_t>(o.workers), -1);
  auto kill_all = [&](int sig) {
    for (pid_t p : pids) if (p > 0) ::kill(p, sig);
  };
  for (int r = 0; r < o.workers; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      const std::string err = std::strerror(errno);
      kill_all(SIGTERM);
      for (pid_t p : pids) if (p > 0) ::waitpid(p, nullptr, 0);
      return make_error(StatusCode::kIoError, "cannot start rank {}: fork: {}", r, err);
    }
    if (pid == 0) {
      // Child: ends with the launcher; the job's coordinates in the environment.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) ::_exit(1);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      ::setenv("WORLD_SIZE", std::to_string(o.workers).c_str(), 1);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(o.workers).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::setenv("OMP_NUM_THREADS", std::to_string(threads_per_worker).c_str(), 0);
      ::execvp(argv[0], argv.data());
      std::fprintf(stderr, "hqp launch: rank %d: cannot run '%s': %s\n", r, argv[0], std::strerror(errno));
      ::_exit(127);
    }
    pids[static_cast<size_t>(r)] = pid;
  }

  using Clock = std::chrono::steady_clock;
  int running = o.workers;
  int first_failed = -1;
  int first_status = 0;
  Clock::time_point deadline{};
  bool terminated = false;
  while (running > 0) {
    if (g_forward_signal != 0) {
      kill_all(g_forward_signal);
      g_forward_signal = 0;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < o.workers; ++r) {
        if (pids[static_cast<size_t>(r)] != pid) continue;
        pids[static_cast<size_t>(r)] = -1;
        --running;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && first_failed < 0) {
          first_failed = r;
          first_status = status;
          std::fprintf(stderr, "hqp launch: rank %d of %d %s; waiting up to %g s for the other ranks\n", r,
                       o.workers, describe(status).c_str(), o.timeout_s);
          deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000.0));
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (first_failed >= 0 && !terminated && Clock::now() > deadline) {
      std::fprintf(stderr, "hqp launch: terminating the %d rank(s) still running after rank %d failed\n", running,
                   first_failed);
      kill_all(SIGTERM);
      terminated = true;
      deadline = Clock::now() + std::chrono::seconds(5);
    } else if (terminated && Clock::now() > deadline) {
      kill_all(SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (first_failed >= 0) {
    return make_error(StatusCode::kInternal, "rank {} of {} {} (the job failed)", first_failed, o.workers,
                      describe(first_status));
  }
  return Status();
}

}  // namespace

Runner add_launch_command(CLI::App& app) {
  auto o = std::make_shared<LaunchOptions>();
  CLI::App* sub = app.add_subcommand(
      "launch", "Run N local workers of a data-parallel job: hqp launch -n 2 -- hqp train ... (sets WORLD_SIZE, RANK, "
                "MASTER_ADDR, MASTER_PORT)");
  sub->add_option("-n,--nproc", o->workers, "Workers (ranks) to start")->check(CLI::Range(1, 256))->capture_default_str();
  sub->add_option("--master-port", o->master_port, "Rendezvous port on 127.0.0.1 (0: a free one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  sub->add_option("--timeout", o->timeout_s, "Seconds the other ranks get to end after one failed, before SIGTERM")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  sub->add_option("command", o->command, "The command each worker runs (after --)")->expected(-1)->required();
  return [o] { return run_launch(*o); };
}

}  // namespace hqp::cli
