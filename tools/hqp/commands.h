// The hqp CLI's subcommands. Each registers its options on the app and returns a runner that
// maps a Status to the process exit code (0 ok, 1 error with one line on stderr).
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"

namespace hqp::cli {

using Runner = std::function<Status()>;

Runner add_info_command(CLI::App& app);
Runner add_run_command(CLI::App& app);
Runner add_convert_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);
Runner add_train_command(CLI::App& app);
Runner add_eval_command(CLI::App& app);
Runner add_prune_command(CLI::App& app);
Runner add_quantize_command(CLI::App& app);
Runner add_compress_command(CLI::App& app);
Runner add_launch_command(CLI::App& app);

// The process's command line, shell-quoted where needed (for reports); set once by main.
const std::string& command_line();

}  // namespace hqp::cli
