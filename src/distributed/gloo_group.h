// Internal to hqp_train: the c10d objects behind distributed::ProcessGroup, for code that hands
// torch tensors to collectives (gradient buckets, BatchNorm statistics, parameter broadcast).
// Includes c10d (heavy, needs USE_C10D_GLOO): keep it out of headers other libraries see.
#pragma once

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "distributed/process_group.h"

namespace hqp::distributed {

struct ProcessGroup::Impl {
  DistConfig config;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  bool broken = false;        // a collective failed; every later call fails
  std::string broken_reason;  // the first failure's message
};

// Runs `fn` (which issues c10d calls and waits on them); a c10d / Gloo exception becomes
// group.failure(what, message). A group already broken fails at once.
template <typename Fn>
Status guarded(ProcessGroup& group, const std::string& what, Fn&& fn) {
  ProcessGroup::Impl& g = group.impl();
  if (g.broken) return group.failure(what, g.broken_reason);
  try {
    fn(*g.pg);
  } catch (const std::exception& e) {
    return group.failure(what, e.what());
  }
  return Status();
}

// Every rank ends with rank `root`'s values of `tensors` (contiguous CPU tensors, same shapes on
// every rank), written in place.
Status broadcast_tensors(ProcessGroup& group, std::vector<at::Tensor>& tensors, int root, const std::string& what);

}  // namespace hqp::distributed
