// `hqp prune MODEL.onnx --groups [--ignore NODE]... [--min-channels N] [--round-to N] [--json]`:
// the channel-dependency groups structured pruning works on — which channels must go together,
// which node tensors each group slices, and why a blocked group cannot be pruned. (The gated
// Fisher pruning loop of issue 11 builds on these groups; until it lands, --groups is required.)
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "onnx/import.h"
#include "prune/channel_groups.h"
#include "validators.h"

namespace hqp::cli {

namespace {

struct PruneOptions {
  std::string model;
  bool groups = false;
  std::vector<std::string> ignore;
  int64_t min_channels = 1;
  int64_t round_to = 1;
  bool json = false;
};

Status run_prune(const PruneOptions& o) {
  HQP_ASSIGN_OR_RETURN(ir::Graph graph, onnx_io::import_model_file(o.model));
  prune::GroupOptions go;
  go.ignore = o.ignore;
  go.min_channels = o.min_channels;
  go.round_to = o.round_to;
  HQP_ASSIGN_OR_RETURN(std::vector<prune::ChannelGroup> groups, prune::channel_groups(graph, go));
  int64_t prunable = 0, removable = 0;
  for (const prune::ChannelGroup& g : groups) {
    prunable += g.prunable ? 1 : 0;
    removable += g.max_removable;
  }
  if (o.json) {
    nlohmann::json j;
    j["model"] = o.model;
    j["groups"] = nlohmann::json::array();
    for (const prune::ChannelGroup& g : groups) {
      nlohmann::json members = nlohmann::json::array();
      for (const prune::Member& m : g.members) {
        nlohmann::json mj = {{"node", m.node}, {"role", std::string(prune::member_role_name(m.role))}};
        if (m.role == prune::MemberRole::kGemmColumns) mj["columns_per_channel"] = m.columns_per_channel;
        members.push_back(mj);
      }
      j["groups"].push_back({{"id", g.id},
                             {"channels", g.channels},
                             {"prunable", g.prunable},
                             {"reason", g.reason},
                             {"max_removable", g.max_removable},
                             {"members", members},
                             {"values", g.values}});
    }
    j["prunable_groups"] = prunable;
    fmt::print("{}\n", j.dump(2));
    return Status();
  }
  fmt::print("model      {}\n", o.model);
  fmt::print("groups     {} ({} prunable, up to {} channels removable)\n\n", groups.size(), prunable, removable);
  for (const prune::ChannelGroup& g : groups) {
    fmt::print("group {:<4} {:>5} channels  {}\n", g.id, g.channels,
               g.prunable ? fmt::format("prunable (up to {} removable)", g.max_removable) : "blocked: " + g.reason);
    for (const prune::Member& m : g.members) {
      fmt::print("    {:<13} {}{}\n", prune::member_role_name(m.role), m.node,
                 m.role == prune::MemberRole::kGemmColumns && m.columns_per_channel > 1
                     ? fmt::format(" ({} columns per channel)", m.columns_per_channel)
                     : "");
    }
  }
  return Status();
}

}  // namespace

Runner add_prune_command(CLI::App& app) {
  auto o = std::make_shared<PruneOptions>();
  CLI::App* sub = app.add_subcommand("prune", "Structured pruning: list the channel-dependency groups of a model (--groups)");
  sub->add_option("model", o->model, "ONNX model (float)")->required();
  sub->add_flag("--groups", o->groups, "List the channel groups, their members and sizes (required for now)")
      ->required();
  sub->add_option("--ignore", o->ignore, "Node whose groups are never pruned (repeatable)");
  sub->add_option("--min-channels", o->min_channels, "Channels every group keeps")->check(positive())->capture_default_str();
  sub->add_option("--round-to", o->round_to, "Kept channel counts stay multiples of N")->check(positive())->capture_default_str();
  sub->add_flag("--json", o->json, "Print JSON (groups: id, channels, prunable, reason, max_removable, members, values)");
  return [o] { return run_prune(*o); };
}

}  // namespace hqp::cli
