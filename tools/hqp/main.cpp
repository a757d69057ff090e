// hqp command-line entry point: subcommand dispatch and the one error-reporting path.
#include <cstdio>
#include <map>
#include <string>

#include "commands.h"

int main(int argc, char** argv) {
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "hqp: %s (see 'hqp --help')\n", e.what());
    return 2;
  }
  for (CLI::App* sub : app.get_subcommands()) {
    hqp::Status status = runners.at(sub)();
    if (!status.ok()) {
      std::fprintf(stderr, "hqp %s: error: %s\n", sub->get_name().c_str(), status.message().c_str());
      return 1;
    }
  }
  return 0;
}
