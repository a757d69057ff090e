// hqp command-line entry point: subcommand dispatch and the one error-reporting path.
#include <malloc.h>

#include <cstdio>
#include <map>
#include <string>

#include "commands.h"
#include "core/text.h"

namespace {

// Training and evaluation on libtorch allocate and free activation-sized blocks (hundreds of KiB
// to MiBs) on every step. glibc returns such blocks to the kernel (munmap, heap trimming), so each
// step faults the pages in again: 5 % of a MobileNetV3 training run was kernel time in page
// faults. Keep freed memory in the process instead (peak memory is unchanged: the same blocks
// are reused). The inference runtime plans one arena and is unaffected.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum; larger blocks still use mmap
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 16 << 20);
}

std::string g_command_line;

std::string quote(const std::string& a) {
  if (!a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == std::string::npos) {
    return a;
  }
  std::string q = "'";
  for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

const std::string& hqp::cli::command_line() { return g_command_line; }

int main(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) g_command_line += (i ? " " : "") + quote(i == 0 ? std::string("hqp") : std::string(argv[i]));
  CLI::App app{"hqp: hybrid quantization and pruning for CNNs (ONNX in, ONNX out)", "hqp"};
  app.set_version_flag("--version", "hqp 0.1.0");
  app.require_subcommand(1);
  std::map<CLI::App*, hqp::cli::Runner> runners;
  auto add = [&](hqp::cli::Runner (*f)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    hqp::cli::Runner r = f(app);
    runners[app.get_subcommands({}).at(before)] = std::move(r);
  };
  add(hqp::cli::add_info_command);
  add(hqp::cli::add_run_command);
  add(hqp::cli::add_convert_command);
  add(hqp::cli::add_bench_command);
  add(hqp::cli::add_train_command);
  add(hqp::cli::add_eval_command);
  add(hqp::cli::add_prune_command);
  add(hqp::cli::add_quantize_command);
  add(hqp::cli::add_compress_command);
  add(hqp::cli::add_launch_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "hqp: %s (see 'hqp --help')\n", hqp::printable(e.what()).c_str());
    return 2;
  }
  for (CLI::App* sub : app.get_subcommands()) {
    // Training and evaluation allocate and free the same batch-sized blocks on every step; the
    // inference commands keep their memory small instead (the runtime hands freed weights back).
    if (sub->get_name() == "train" || sub->get_name() == "eval") keep_freed_memory();
    // The one error path: one line (names quoted in messages come from outside, hence printable),
    // exit 1; an exception that escaped a command is reported the same way, never an abort.
    hqp::Status status;
    try {
      status = runners.at(sub)();
    } catch (const std::exception& e) {
      status = hqp::Status(hqp::StatusCode::kInternal, std::string("unexpected failure: ") + e.what());
    } catch (...) {
      status = hqp::Status(hqp::StatusCode::kInternal, "unexpected failure (unknown exception)");
    }
    if (!status.ok()) {
      std::fprintf(stderr, "hqp %s: error: %s\n", sub->get_name().c_str(), hqp::printable(status.message()).c_str());
      return 1;
    }
  }
  return 0;
}
