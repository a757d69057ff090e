// Block removal (prune/collapse.h): a group that loses its last channel takes its block with it. The
// collapsed graph must compute what the graph with every channel of the group masked computes
// (consumers reading zeros = their bias), with the block's nodes gone.
#include "prune/collapse.h"

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/prune_test_net.h"
#include "common/prune_test_util.h"
#include "common/tensor_compare.h"
#include "ir/rewrite.h"
#include "ir/verifier.h"
#include "onnx/import.h"
#include "prune/channel_groups.h"
#include "prune/selection.h"
#include "prune/surgery.h"
#include "runtime/session.h"
#include "train/zoo.h"

namespace hqp::test {
namespace {

using ir::Graph;
using ir::OpKind;
using ir::Value;
using prune::ChannelGroup;
using prune::MemberRole;

constexpr double kMaxRelErr = 1e-5;

std::vector<int64_t> all_of(const ChannelGroup& g) {
  std::vector<int64_t> r(static_cast<size_t>(g.channels));
  for (int64_t c = 0; c < g.channels; ++c) r[static_cast<size_t>(c)] = c;
  return r;
}

bool has_node(const Graph& g, const std::string& name) { return g.find_node(name) != nullptr; }

// stem conv -> bn (trunk t); block: expand conv -> relu -> depthwise -> relu -> SE (gap, reduce,
// relu, expand, hardsigmoid, mul) -> proj conv -> bn; t + block -> GAP -> fc.
Graph make_block_net() {
  Net n;
  Value* x = n.input({1, 3, 8, 8});
  Value* t = n.bn(n.conv(x, 3, 8, "stem"), 8, "stem_bn");
  Value* e = n.unary(OpKind::Relu, n.conv(t, 8, 16, "expand"), "expand_relu");
  Value* d = n.unary(OpKind::Relu, n.conv(e, 16, 16, "dw", /*group=*/16), "dw_relu");
  Value* s = n.unary(OpKind::Relu, n.conv(n.unary(OpKind::GlobalAveragePool, d, "se_gap"), 16, 4, "se_reduce"), "se_r");
  Value* gate = n.unary(OpKind::HardSigmoid, n.conv(s, 4, 16, "se_expand"), "se_gate");
  Value* m = n.binary(OpKind::Mul, d, gate, "se_mul");
  Value* p = n.bn(n.conv(m, 16, 8, "proj"), 8, "proj_bn");
  n.head(n.binary(OpKind::Add, t, p, "add"), 8, 3);
  EXPECT_TRUE(ir::verify_and_infer(n.g).ok());
  return std::move(n.g);
}

prune::GroupOptions blocks() {
  prune::GroupOptions o;
  o.remove_blocks = true;
  return o;
}

TEST(Collapse, OnlyWithRemoveBlocksAndOnlyWhereABranchEndsInAnElementwiseOp) {
  const Graph g = make_block_net();
  Result<std::vector<ChannelGroup>> plain = prune::channel_groups(g);
  HQP_ASSERT_OK(plain.status());
  for (const ChannelGroup& grp : *plain) {
    EXPECT_FALSE(grp.collapsible) << grp.id;
    if (grp.prunable) {
      EXPECT_EQ(grp.max_removable, grp.channels - 1);
    }
  }
  const ChannelGroup* se0 = group_with(*plain, "se_reduce", MemberRole::kProducer);
  ASSERT_NE(se0, nullptr);
  Graph refused = g.clone();
  const Status st = prune::remove_channels(refused, *se0, all_of(*se0));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("expected 1..3"), std::string::npos) << st.message();

  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(g, blocks());
  HQP_ASSERT_OK(groups.status());
  const ChannelGroup* se = group_with(*groups, "se_reduce", MemberRole::kProducer);
  const ChannelGroup* expansion = group_with(*groups, "expand", MemberRole::kProducer);
  const ChannelGroup* trunk = group_with(*groups, "stem", MemberRole::kProducer);
  ASSERT_TRUE(se && expansion && trunk);
  EXPECT_TRUE(se->collapsible);
  EXPECT_EQ(se->max_removable, 4);
  EXPECT_TRUE(expansion->collapsible);
  EXPECT_EQ(expansion->max_removable, 16);
  // The trunk reaches the classifier head: removing all of it would leave a constant network.
  EXPECT_FALSE(trunk->collapsible);
  EXPECT_EQ(trunk->max_removable, 7);
  EXPECT_NE(prune::collapse_blocker(g, *trunk).find("flatten"), std::string::npos) << prune::collapse_blocker(g, *trunk);
}

TEST(Collapse, RemovingABlockEqualsMaskingAllItsChannels) {
  const Graph g = make_block_net();
  const Tensor x = random_tensor({2, 3, 8, 8}, 11, 1.0f);
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(g, blocks());
  HQP_ASSERT_OK(groups.status());
  const ChannelGroup& se = *group_with(*groups, "se_reduce", MemberRole::kProducer);
  const ChannelGroup& expansion = *group_with(*groups, "expand", MemberRole::kProducer);

  // The SE block alone: it becomes a per-channel scale, absorbed into proj's input channels.
  {
    Graph masked = g.clone(), removed = g.clone();
    HQP_ASSERT_OK(prune::mask_channels(masked, se, all_of(se)));
    HQP_ASSERT_OK(prune::remove_channels(removed, se, all_of(se)));
    for (const char* gone : {"se_gap", "se_reduce", "se_r", "se_expand", "se_gate", "se_mul"}) {
      EXPECT_FALSE(has_node(removed, gone)) << gone;
    }
    EXPECT_TRUE(has_node(removed, "proj"));
    EXPECT_EQ(ir::count_nodes(removed, OpKind::Mul), 0);
    EXPECT_LE(max_relative_error(run_fast(removed, x), run_fast(masked, x)), kMaxRelErr);
  }
  // The whole inverted-residual block: t + constant, the constant absorbed into stem_bn's shift.
  {
    Graph masked = g.clone(), removed = g.clone();
    HQP_ASSERT_OK(prune::mask_channels(masked, expansion, all_of(expansion)));
    HQP_ASSERT_OK(prune::remove_channels(removed, expansion, all_of(expansion)));
    for (const char* gone : {"expand", "dw", "se_reduce", "se_expand", "se_mul", "proj", "proj_bn", "add"}) {
      EXPECT_FALSE(has_node(removed, gone)) << gone;
    }
    EXPECT_EQ(ir::count_nodes(removed, OpKind::Conv), 1);  // the stem
    EXPECT_LE(max_relative_error(run_fast(removed, x), run_fast(masked, x)), kMaxRelErr);
  }
  // Both in one step, with channels of the trunk removed too (sliced first, then collapsed).
  {
    const ChannelGroup& trunk = *group_with(*groups, "stem", MemberRole::kProducer);
    const std::vector<int64_t> some = {1, 4, 6};
    Graph masked = g.clone(), removed = g.clone();
    HQP_ASSERT_OK(prune::mask_channels(masked, se, all_of(se)));
    HQP_ASSERT_OK(prune::mask_channels(masked, expansion, all_of(expansion)));
    HQP_ASSERT_OK(prune::mask_channels(masked, trunk, some));
    const std::vector<int64_t> all_se = all_of(se), all_expansion = all_of(expansion);
    const prune::ChannelRemoval step[] = {{&se, all_se}, {&expansion, all_expansion}, {&trunk, some}};
    HQP_ASSERT_OK(prune::remove_channels(removed, step));
    EXPECT_EQ(ir::count_nodes(removed, OpKind::Conv), 1);
    EXPECT_LE(max_relative_error(run_fast(removed, x), run_fast(masked, x)), kMaxRelErr);
  }
}

// A collapsible group is priced at its whole block's saving per channel: with a latency table, the
// nodes that vanish only with the block (the SE pooling, gate and Mul) count too.
TEST(Collapse, CollapsibleGroupsArePricedAtTheirWholeBlock) {
  const Graph g = make_block_net();
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(g, blocks());
  HQP_ASSERT_OK(groups.status());
  prune::LatencyTable table;
  for (const auto& n : g.nodes()) table[n->name] = 1e-3;  // every unit of work of every node: 1 us
  Result<std::vector<prune::GroupCost>> cr = prune::channel_costs(g, *groups, &table);
  HQP_ASSERT_OK(cr.status());
  const std::vector<prune::GroupCost>& costs = *cr;
  for (const ChannelGroup* grp : {group_with(*groups, "se_reduce", MemberRole::kProducer),
                                  group_with(*groups, "expand", MemberRole::kProducer)}) {
    Graph collapsed = g.clone();
    HQP_ASSERT_OK(prune::remove_channels(collapsed, *grp, all_of(*grp)));
    const double whole = prune::estimated_latency_ms(g, table) - prune::estimated_latency_ms(collapsed, table);
    EXPECT_NEAR(costs[static_cast<size_t>(grp->id)].latency_ms, whole / static_cast<double>(grp->channels), 1e-9);
    // More than one channel's share of the convolutions alone: the pooling / gate / Add go too.
    Graph one = g.clone();
    HQP_ASSERT_OK(prune::remove_channels(one, *grp, std::vector<int64_t>{0}));
    EXPECT_GT(costs[static_cast<size_t>(grp->id)].latency_ms,
              prune::estimated_latency_ms(g, table) - prune::estimated_latency_ms(one, table));
  }
}

TEST(Collapse, AnAddWhoseTrunkComesFromAnActivationStays) {
  // t = relu(stem): the shift cannot go into a producer, so t + constant stays as an Add.
  Net n;
  Value* x = n.input({1, 3, 8, 8});
  Value* t = n.unary(OpKind::Relu, n.conv(x, 3, 8, "stem"), "stem_relu");
  Value* e = n.unary(OpKind::Relu, n.conv(t, 8, 12, "expand"), "expand_relu");
  Value* p = n.bn(n.conv(e, 12, 8, "proj"), 8, "proj_bn");
  n.head(n.binary(OpKind::Add, t, p, "add"), 8, 3);
  HQP_ASSERT_OK(ir::verify_and_infer(n.g));
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(n.g, blocks());
  HQP_ASSERT_OK(groups.status());
  const ChannelGroup& expansion = *group_with(*groups, "expand", MemberRole::kProducer);
  ASSERT_TRUE(expansion.collapsible) << prune::collapse_blocker(n.g, expansion);
  Graph masked = n.g.clone(), removed = n.g.clone();
  HQP_ASSERT_OK(prune::mask_channels(masked, expansion, all_of(expansion)));
  HQP_ASSERT_OK(prune::remove_channels(removed, expansion, all_of(expansion)));
  EXPECT_EQ(ir::count_nodes(removed, OpKind::Add), 1);
  EXPECT_FALSE(has_node(removed, "proj"));
  const Tensor in = random_tensor({2, 3, 8, 8}, 5, 1.0f);
  EXPECT_LE(max_relative_error(run_fast(removed, in), run_fast(masked, in)), kMaxRelErr);
}

// Every collapsible group of a real network, one at a time and all in one step: removal == masking,
// and every removal drops nodes.
void check_collapses(const Graph& g, const Tensor& x, const std::string& model, int at_least) {
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(g, blocks());
  HQP_ASSERT_OK(groups.status());
  std::vector<const ChannelGroup*> collapsible;
  for (const ChannelGroup& grp : *groups) {
    if (grp.collapsible) collapsible.push_back(&grp);
  }
  EXPECT_GE(static_cast<int>(collapsible.size()), at_least) << model;
  std::vector<std::vector<int64_t>> all;
  for (const ChannelGroup* grp : collapsible) all.push_back(all_of(*grp));
  for (size_t i = 0; i < collapsible.size(); ++i) {
    Graph masked = g.clone(), removed = g.clone();
    HQP_ASSERT_OK(prune::mask_channels(masked, *collapsible[i], all[i]));
    const Status st = prune::remove_channels(removed, *collapsible[i], all[i]);
    ASSERT_TRUE(st.ok()) << model << " group " << collapsible[i]->id << ": " << st.message();
    EXPECT_LT(removed.nodes().size(), g.nodes().size()) << model << " group " << collapsible[i]->id;
    const double err = max_relative_error(run_fast(removed, x), run_fast(masked, x));
    EXPECT_LE(err, kMaxRelErr) << model << " group " << collapsible[i]->id;
    if (err > kMaxRelErr) {
      for (const prune::Member& m : collapsible[i]->members) std::cerr << "  member " << prune::member_role_name(m.role) << " " << m.node << "\n";
      for (const auto& n : g.nodes()) if (!removed.find_node(n->name)) std::cerr << "  gone " << n->name << "\n";
      for (const auto& n : removed.nodes()) if (!g.find_node(n->name)) std::cerr << "  new " << n->name << "\n";
    }
  }
  Graph masked = g.clone(), removed = g.clone();
  std::vector<prune::ChannelRemoval> step;
  for (size_t i = 0; i < collapsible.size(); ++i) {
    HQP_ASSERT_OK(prune::mask_channels(masked, *collapsible[i], all[i]));
    step.push_back({collapsible[i], all[i]});
  }
  HQP_ASSERT_OK(prune::remove_channels(removed, step));
  EXPECT_LE(max_relative_error(run_fast(removed, x), run_fast(masked, x)), kMaxRelErr) << model << " all blocks";
  ::testing::Test::RecordProperty(model + "_nodes_before", static_cast<int>(g.nodes().size()));
  ::testing::Test::RecordProperty(model + "_nodes_after", static_cast<int>(removed.nodes().size()));
}

TEST(Collapse, ZooMobileNetV3SmallBlocks) {
  train::ZooOptions o;
  o.in_channels = 1;
  o.num_classes = 10;
  o.small_input = true;
  o.input_size = 28;
  Result<Graph> g = train::build_zoo_model("mobilenet_v3_small", o);
  HQP_ASSERT_OK(g.status());
  // 9 SE blocks and 5 residual inverted-residual blocks.
  check_collapses(*g, random_tensor({2, 1, 28, 28}, 5, 1.0f), "zoo_mobilenet_v3_small", 12);
}

TEST(Collapse, TorchvisionExportsBlocks) {
  for (const char* name : {"mobilenet_v3_small_op13", "mobilenet_v2_op13", "resnet18_op13"}) {
    const std::string path = std::string(HQP_GOLDEN_DIR) + "/" + name + "/model.onnx";
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing (CTest fixture golden_models_generate)";
    Result<Graph> g = onnx_io::import_model_file(path);
    HQP_ASSERT_OK(g.status());
    // MobileNetV2: 10 residual blocks; ResNet-18: 8 basic blocks, 5 with an identity shortcut... each
    // block's inner group (conv1 -> conv2) collapses where the shortcut is an identity or a conv.
    check_collapses(*g, random_tensor({1, 3, 224, 224}, 3, 1.0f), name, 5);
  }
}

}  // namespace
}  // namespace hqp::test
