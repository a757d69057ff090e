// Helpers of the pruning tests (tests/prune): find a channel group by one of its members, run a
// graph once on the fast runtime (one thread).
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ir/graph.h"
#include "prune/channel_groups.h"
#include "runtime/session.h"

namespace hqp::test {

// The group in which `node` takes part with `role`, or nullptr.
inline const prune::ChannelGroup* group_with(const std::vector<prune::ChannelGroup>& groups, const std::string& node,
                                             prune::MemberRole role) {
  for (const prune::ChannelGroup& g : groups) {
    for (const prune::Member& m : g.members) {
      if (m.node == node && m.role == role) return &g;
    }
  }
  return nullptr;
}

// Output 0 of `g` on input `x` (fast runtime, one thread); an undefined tensor (and a failed
// expectation) when the session cannot be built or run.
inline Tensor run_fast(const ir::Graph& g, const Tensor& x) {
  SessionOptions o;
  o.threads = 1;
  Result<Session> s = Session::create(g, o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return Tensor();
  Result<std::vector<Tensor>> out = s->run(std::vector<Tensor>{x});
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? (*out)[0] : Tensor();
}

}  // namespace hqp::test
