// The data flags every command that reads a dataset shares: --data, --val-split (and its alias
// --val-size), --preprocess, --mean, --std, --workers. Registers them on a subcommand and turns
// them into modeldata requests; the rules themselves live in src/modeldata and src/data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "modeldata/preprocess.h"
#include "modeldata/splits.h"

namespace hqp::cli {

struct DataFlags {
  std::string data;
  std::optional<std::string> val_split;  // --val-split text
  std::optional<int64_t> val_size;       // --val-size N (alias of --val-split random:N)
  std::optional<std::string> preprocess;
  std::string mean;
  std::string std;
  int workers = 2;
};

// Registers --data (required), --val-split, --val-size, --preprocess, --mean, --std, --workers.
// `preprocess_default` completes --preprocess's help ("the model's, else none").
void add_data_flags(CLI::App* sub, DataFlags& flags, const std::string& preprocess_default);

// --val-split / --val-size as a request (error when both are given or the spec does not parse).
Result<modeldata::DataRequest> data_request(const DataFlags& flags);
modeldata::PreprocessRequest preprocess_request(const DataFlags& flags, modeldata::PreprocessFallback fallback);

}  // namespace hqp::cli
