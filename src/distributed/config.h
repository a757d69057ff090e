// Where a process stands in a data-parallel job: world size, rank, rendezvous address and the
// timeout of every collective. Read from flags and, like torchrun, from the environment
// (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT); flags win. No libtorch here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"

namespace hqp::distributed {

struct DistConfig {
  int world_size = 1;   // processes in the job; 1 = no process group at all
  int rank = 0;         // this process, in [0, world_size)
  std::string master_addr = "127.0.0.1";  // rank 0 hosts the rendezvous store here
  int master_port = 29500;
  double timeout_s = 300.0;  // rendezvous and every collective; a silent peer ends the job after this
  bool sync_bn = false;      // BatchNorm statistics over the global batch (else per rank)
  // Gradient all-reduce bucket size (DDP's bucket_cap_mb): smaller buckets start their all-reduce
  // earlier in backward (more overlap, more calls); the first bucket is at most 1 MiB regardless.
  double bucket_mb = 25.0;

  bool distributed() const { return world_size > 1; }
  bool is_writer() const { return rank == 0; }  // only rank 0 writes files, checkpoints and reports
};

// What the command line gave (each unset when the flag was absent).
struct DistFlags {
  std::optional<int> world_size;
  std::optional<int> rank;
  std::optional<std::string> master;  // "ADDR:PORT" (or "ADDR", port from MASTER_PORT / default)
  std::optional<double> timeout_s;
  bool sync_bn = false;
  std::optional<double> bucket_mb;
};

// Flags over environment over defaults. kInvalidArgument names the variable or flag: a
// non-integer WORLD_SIZE, a rank outside [0, world_size), a port outside 1..65535, a timeout <= 0,
// a bucket size outside (0, 1024] MiB.
// `getenv` is injectable for tests (nullptr: the process environment).
Result<DistConfig> resolve_dist_config(const DistFlags& flags, const char* (*getenv_fn)(const char*) = nullptr);

}  // namespace hqp::distributed
