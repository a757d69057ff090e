// Registers the data-parallel flags and joins the process group they describe.
#include "dist_flags.h"

namespace hqp::cli {

void add_dist_flags(CLI::App* sub, distributed::DistFlags& flags) {
  sub->add_option_function<int>("--world-size", [&flags](int v) { flags.world_size = v; },
                                "Data-parallel processes (default: $WORLD_SIZE, else 1); see 'hqp launch'")
      ->check(CLI::Range(1, 4096));
  sub->add_option_function<int>("--rank", [&flags](int v) { flags.rank = v; },
                                "This process's rank in [0, world size) (default: $RANK, else 0)")
      ->check(CLI::Range(0, 4095));
  sub->add_option_function<std::string>("--master", [&flags](const std::string& v) { flags.master = v; },
                                        "Rendezvous ADDR:PORT hosted by rank 0 (default: $MASTER_ADDR:$MASTER_PORT, "
                                        "else 127.0.0.1:29500)");
  sub->add_option_function<double>("--timeout", [&flags](double v) { flags.timeout_s = v; },
                                   "Seconds a rank waits for the others (rendezvous, each collective) before "
                                   "failing; default 300")
      ->check(CLI::Range(0.001, 86400.0));
  sub->add_flag("--sync-bn", flags.sync_bn, "BatchNorm statistics over the global batch (else per rank)");
  sub->add_option_function<double>("--bucket-mb", [&flags](double v) { flags.bucket_mb = v; },
                                   "Gradient all-reduce bucket size in MiB (DDP's bucket_cap_mb; default 25): "
                                   "smaller buckets start during backward")
      ->check(CLI::Range(1e-6, 1024.0));
}

Result<distributed::GroupPtr> join_group(const distributed::DistFlags& flags) {
  HQP_ASSIGN_OR_RETURN(distributed::DistConfig config, distributed::resolve_dist_config(flags));
  if (!config.distributed()) return distributed::GroupPtr();
  return distributed::ProcessGroup::connect(config);
}

}  // namespace hqp::cli
