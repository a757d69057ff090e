// What prune and quantize measure on a finished model, with the CLI's progress bar: top-1 on a
// split and the median batch-1 latency, both on the fast runtime. Presentation glue over hqp_eval.
#pragma once

#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "data/batch_source.h"
#include "distributed/process_group.h"
#include "ir/graph.h"
#include "progress.h"

namespace hqp::cli {

// Top-1 of `graph` over one epoch of `src` (fast runtime, `threads`), progress shown as `label`.
// With a group, `src` is this rank's shard and the result covers every rank's.
Result<double> top1_with_progress(const ir::Graph& graph, data::BatchSource& src, int threads, ProgressBar& bar,
                                  const std::string& label, distributed::ProcessGroup* group = nullptr);

// Median of `runs` timed batch-1 runs (after 5 warm-up runs) on a fixed input of `sample` [C, H, W].
Result<double> median_latency_ms(const ir::Graph& graph, const Shape& sample, int threads, int runs);

}  // namespace hqp::cli
