// Channel-dependency groups and surgery: the coupling rules on small graphs (chains, residual
// trunks, depthwise convs, SE gates, Flatten -> Gemm, blocked ops), and the issue-11 exactness
// property on whole networks: for every prunable group, masking its channels where they are consumed
// and physically removing them give the same outputs.
#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/prune_test_net.h"
#include "common/prune_test_util.h"
#include "common/tensor_compare.h"
#include "ir/verifier.h"
#include "onnx/import.h"
#include "prune/channel_groups.h"
#include "prune/selection.h"
#include "prune/surgery.h"
#include "quant/insert_qdq.h"
#include "runtime/session.h"
#include "train/zoo.h"

namespace hqp::test {
namespace {

using ir::Graph;
using ir::OpKind;
using ir::Value;
using prune::ChannelGroup;
using prune::MemberRole;

constexpr double kPruneMaxRelErr = 1e-5;  // masked vs removed: same sums, other oneDNN blockings


std::vector<int64_t> every_other(int64_t channels) {
  std::vector<int64_t> r;
  for (int64_t c = 0; c < channels; c += 2) r.push_back(c);
  return r;
}


// Masks and removes every other channel of each prunable group of `g`; both must agree.
// Returns the number of groups checked.
int check_every_group(const Graph& g, const Tensor& x, const std::string& model) {
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(g);
  EXPECT_TRUE(groups.ok()) << groups.status().message();
  if (!groups.ok()) return 0;
  int checked = 0;
  for (const ChannelGroup& grp : *groups) {
    if (!grp.prunable) continue;
    // Every other channel; for a grouped conv's blocks, every other block (whole conv groups).
    std::vector<int64_t> remove;
    for (int64_t blk : every_other(grp.channels / grp.block)) {
      for (int64_t c = 0; c < grp.block; ++c) remove.push_back(blk * grp.block + c);
    }
    Graph masked = g.clone();
    Graph pruned = g.clone();
    const Status ms = prune::mask_channels(masked, grp, remove);
    const Status ps = prune::remove_channels(pruned, grp, remove);
    EXPECT_TRUE(ms.ok()) << model << " group " << grp.id << ": " << ms.message();
    EXPECT_TRUE(ps.ok()) << model << " group " << grp.id << ": " << ps.message();
    if (!ms.ok() || !ps.ok()) continue;
    const Tensor a = run_fast(masked, x);
    const Tensor b = run_fast(pruned, x);
    if (!a.defined() || !b.defined()) continue;
    EXPECT_LE(max_relative_error(b, a), kPruneMaxRelErr)
        << model << " group " << grp.id << " (" << grp.channels << " channels, first member " << grp.members[0].node
        << ")";
    ++checked;
  }
  return checked;
}

TEST(ChannelGroups, ChainBatchNormAndHead) {
  Net n;
  Value* x = n.input({1, 3, 8, 8});
  Value* a = n.unary(OpKind::Relu, n.bn(n.conv(x, 3, 6, "c1"), 6, "bn1"), "r1");
  Value* b = n.unary(OpKind::Relu, n.conv(a, 6, 5, "c2"), "r2");
  n.head(b, 5, 4);
  HQP_ASSERT_OK(ir::verify_and_infer(n.g));
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(n.g);
  HQP_ASSERT_OK(groups.status());
  const ChannelGroup* g1 = group_with(*groups, "c1", MemberRole::kProducer);
  ASSERT_NE(g1, nullptr);
  EXPECT_TRUE(g1->prunable) << g1->reason;
  EXPECT_EQ(g1->channels, 6);
  EXPECT_EQ(g1->max_removable, 5);
  EXPECT_EQ(group_with(*groups, "bn1", MemberRole::kNorm), g1);
  EXPECT_EQ(group_with(*groups, "c2", MemberRole::kConsumer), g1);
  const ChannelGroup* g2 = group_with(*groups, "c2", MemberRole::kProducer);
  ASSERT_NE(g2, nullptr);
  EXPECT_TRUE(g2->prunable);
  EXPECT_EQ(group_with(*groups, "fc", MemberRole::kGemmColumns), g2);
  // The input's and the logits' channels are never pruned.
  const ChannelGroup* in = group_with(*groups, "c1", MemberRole::kConsumer);
  ASSERT_NE(in, nullptr);
  EXPECT_FALSE(in->prunable);
  EXPECT_NE(in->reason.find("graph input 'x'"), std::string::npos) << in->reason;
  const ChannelGroup* out = group_with(*groups, "fc", MemberRole::kProducer);
  ASSERT_NE(out, nullptr);
  EXPECT_FALSE(out->prunable);
  EXPECT_NE(out->reason.find("graph output 'logits'"), std::string::npos) << out->reason;
  EXPECT_EQ(check_every_group(n.g, random_tensor({2, 3, 8, 8}, 99), "chain"), 2);
}

TEST(ChannelGroups, ResidualTrunkDepthwiseAndSeGateShareGroups) {
  Net n;
  Value* x = n.input({1, 3, 8, 8});
  Value* stem = n.unary(OpKind::Relu, n.conv(x, 3, 8, "stem"), "r0");
  Value* branch = n.conv(n.unary(OpKind::Relu, n.conv(stem, 8, 8, "b1"), "r1"), 8, 8, "b2");
  Value* sum = n.binary(OpKind::Add, branch, stem, "add");  // trunk: stem and b2 outputs coupled
  Value* dw = n.unary(OpKind::Relu, n.conv(sum, 8, 8, "dw", /*group=*/8), "r2");
  // SE: dw * hardsigmoid(conv(relu(conv(gap(dw)))))
  Value* sq = n.unary(OpKind::Relu, n.conv(n.unary(OpKind::GlobalAveragePool, dw, "se_gap"), 8, 4, "se_reduce"), "se_r");
  Value* gate = n.unary(OpKind::HardSigmoid, n.conv(sq, 4, 8, "se_expand"), "se_gate");
  Value* scaled = n.binary(OpKind::Mul, dw, gate, "se_mul");
  n.head(n.conv(scaled, 8, 6, "proj"), 6, 3);
  HQP_ASSERT_OK(ir::verify_and_infer(n.g));
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(n.g);
  HQP_ASSERT_OK(groups.status());
  const ChannelGroup* trunk = group_with(*groups, "stem", MemberRole::kProducer);
  ASSERT_NE(trunk, nullptr);
  EXPECT_TRUE(trunk->prunable) << trunk->reason;
  EXPECT_EQ(group_with(*groups, "b2", MemberRole::kProducer), trunk) << "residual Add couples its operands";
  EXPECT_EQ(group_with(*groups, "dw", MemberRole::kPassThrough), trunk) << "depthwise passes channels through";
  EXPECT_EQ(group_with(*groups, "se_expand", MemberRole::kProducer), trunk) << "the SE gate is coupled by Mul";
  EXPECT_EQ(group_with(*groups, "se_reduce", MemberRole::kConsumer), trunk);
  EXPECT_EQ(group_with(*groups, "proj", MemberRole::kConsumer), trunk);
  const ChannelGroup* squeeze = group_with(*groups, "se_reduce", MemberRole::kProducer);
  ASSERT_NE(squeeze, nullptr);
  EXPECT_NE(squeeze, trunk) << "the squeeze width is a group of its own";
  EXPECT_EQ(squeeze->channels, 4);
  EXPECT_EQ(check_every_group(n.g, random_tensor({2, 3, 8, 8}, 7), "se"), 4);  // trunk, b1, squeeze, proj
}

Value* concat(Net& n, std::vector<Value*> in, int64_t axis, const std::string& name) {
  Value* y = n.g.add_value(name + ".y");
  ir::AxisAttrs a;
  a.axis = axis;
  a.present = true;
  n.g.add_node(OpKind::Concat, name, std::move(in), {y}, a);
  return y;
}

const prune::Member* member(const ChannelGroup& g, const std::string& node, MemberRole role, int64_t offset) {
  for (const prune::Member& m : g.members) {
    if (m.node == node && m.role == role && m.offset == offset) return &m;
  }
  return nullptr;
}

TEST(ChannelGroups, BlockedOpsAndOptions) {
  Net n;
  Value* x = n.input({1, 3, 8, 8});
  Value* a = n.conv(x, 3, 6, "c1");
  Value* b = n.conv(x, 3, 6, "c2");
  Value* cat = concat(n, {a, b}, 2, "concat");  // along H: channels do not line up side by side
  n.head(n.conv(cat, 6, 6, "c3"), 6, 3);
  HQP_ASSERT_OK(ir::verify_and_infer(n.g));
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(n.g);
  HQP_ASSERT_OK(groups.status());
  const ChannelGroup* g1 = group_with(*groups, "c1", MemberRole::kProducer);
  ASSERT_NE(g1, nullptr);
  EXPECT_FALSE(g1->prunable);
  EXPECT_NE(g1->reason.find("Concat 'concat' joins along axis 2"), std::string::npos) << g1->reason;
  const ChannelGroup* g3 = group_with(*groups, "c3", MemberRole::kProducer);
  ASSERT_NE(g3, nullptr);
  EXPECT_TRUE(g3->prunable);
  // --ignore, --min-channels and --round-to.
  prune::GroupOptions o;
  o.ignore = {"c3"};
  Result<std::vector<ChannelGroup>> ignored = prune::channel_groups(n.g, o);
  HQP_ASSERT_OK(ignored.status());
  EXPECT_FALSE(group_with(*ignored, "c3", MemberRole::kProducer)->prunable);
  o = {};
  o.round_to = 4;
  Result<std::vector<ChannelGroup>> rounded = prune::channel_groups(n.g, o);
  HQP_ASSERT_OK(rounded.status());
  EXPECT_EQ(group_with(*rounded, "c3", MemberRole::kProducer)->max_removable, 2) << "6 channels: keep 4, remove 2";
  o.round_to = 8;
  Result<std::vector<ChannelGroup>> too_few = prune::channel_groups(n.g, o);
  HQP_ASSERT_OK(too_few.status());
  EXPECT_FALSE(group_with(*too_few, "c3", MemberRole::kProducer)->prunable) << "6 channels cannot keep a multiple of 8";
  o = {};
  o.ignore = {"nope"};
  EXPECT_EQ(prune::channel_groups(n.g, o).status().code(), StatusCode::kNotFound);
  o = {};
  o.min_channels = 0;
  EXPECT_EQ(prune::channel_groups(n.g, o).status().code(), StatusCode::kInvalidArgument);
  // Surgery refuses a blocked group and bad channel lists, and leaves the graph alone.
  Graph copy = n.g.clone();
  EXPECT_EQ(prune::remove_channels(copy, *g1, every_other(6)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(prune::remove_channels(copy, *g3, std::vector<int64_t>{3, 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(prune::remove_channels(copy, *g3, std::vector<int64_t>{0, 1, 2, 3, 4, 5}).code(),
            StatusCode::kInvalidArgument);
}

// A channel Concat puts its inputs' groups side by side; whatever reads the concatenation (BatchNorm,
// a depthwise conv, a conv, a second Concat that repeats an input) is a member of each group at that
// group's offset, and groups sharing those tensors are removed in one call.
TEST(ChannelGroups, ConcatPlacesGroupsSideBySide) {
  Net n;
  Value* x = n.input({1, 3, 8, 8});
  Value* a = n.unary(OpKind::Relu, n.conv(x, 3, 6, "c1"), "r1");
  Value* b = n.unary(OpKind::Relu, n.conv(x, 3, 4, "c2"), "r2");
  Value* cat = n.bn(concat(n, {a, b}, 1, "cat"), 10, "bn_cat");
  Value* dw = n.unary(OpKind::Relu, n.conv(cat, 10, 10, "dw", /*group=*/10), "r3");
  Value* cat2 = concat(n, {dw, a}, -3, "cat2");  // a again, at channel 10; axis -3 is the channel axis
  n.head(n.conv(cat2, 16, 5, "c3"), 5, 3);
  HQP_ASSERT_OK(ir::verify_and_infer(n.g));
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(n.g);
  HQP_ASSERT_OK(groups.status());
  const ChannelGroup* ga = group_with(*groups, "c1", MemberRole::kProducer);
  const ChannelGroup* gb = group_with(*groups, "c2", MemberRole::kProducer);
  ASSERT_NE(ga, nullptr);
  ASSERT_NE(gb, nullptr);
  ASSERT_NE(ga, gb);
  EXPECT_TRUE(ga->prunable) << ga->reason;
  EXPECT_TRUE(gb->prunable) << gb->reason;
  EXPECT_EQ(ga->channels, 6);
  EXPECT_EQ(gb->channels, 4);
  EXPECT_NE(member(*ga, "bn_cat", MemberRole::kNorm, 0), nullptr);
  EXPECT_NE(member(*gb, "bn_cat", MemberRole::kNorm, 6), nullptr);
  EXPECT_NE(member(*ga, "dw", MemberRole::kPassThrough, 0), nullptr);
  EXPECT_NE(member(*gb, "dw", MemberRole::kPassThrough, 6), nullptr);
  EXPECT_NE(member(*ga, "c3", MemberRole::kConsumer, 0), nullptr);
  EXPECT_NE(member(*ga, "c3", MemberRole::kConsumer, 10), nullptr) << "the repeated input is read twice";
  EXPECT_NE(member(*gb, "c3", MemberRole::kConsumer, 6), nullptr);
  EXPECT_EQ(check_every_group(n.g, random_tensor({2, 3, 8, 8}, 17), "concat"), 3);  // a, b, c3's output
  // Both groups at once (offsets of the unpruned graph) == masking both.
  const std::vector<int64_t> ra = {0, 2, 5}, rb = {1};
  Graph masked = n.g.clone();
  HQP_ASSERT_OK(prune::mask_channels(masked, *ga, ra));
  HQP_ASSERT_OK(prune::mask_channels(masked, *gb, rb));
  Graph pruned = n.g.clone();
  const prune::ChannelRemoval both[] = {{ga, ra}, {gb, rb}};
  HQP_ASSERT_OK(prune::remove_channels(pruned, both));
  EXPECT_EQ(pruned.find_node("c3")->input(1)->data.shape(), (Shape{5, 9, 3, 3})) << "16 - 3 (a, twice) - 1 (b)";
  EXPECT_EQ(pruned.find_node("dw")->input(1)->data.shape(), (Shape{6, 1, 3, 3}));
  EXPECT_EQ(pruned.find_node("dw")->attr<ir::ConvAttrs>().group, 6);
  EXPECT_EQ(pruned.find_node("bn_cat")->input(1)->data.shape(), (Shape{6}));
  const Tensor in = random_tensor({2, 3, 8, 8}, 18, 1.0f);
  EXPECT_LE(max_relative_error(run_fast(pruned, in), run_fast(masked, in)), kPruneMaxRelErr);
  // Differently concatenated operands of one Add are not followed.
  Net m;
  Value* mx = m.input({1, 3, 8, 8});
  Value* p = m.conv(mx, 3, 6, "p");
  Value* q = m.conv(mx, 3, 4, "q");
  Value* sum = m.binary(OpKind::Add, concat(m, {p, q}, 1, "pq"), concat(m, {q, p}, 1, "qp"), "add");
  m.head(m.conv(sum, 10, 5, "c"), 5, 3);
  HQP_ASSERT_OK(ir::verify_and_infer(m.g));
  Result<std::vector<ChannelGroup>> mixed = prune::channel_groups(m.g);
  HQP_ASSERT_OK(mixed.status());
  const ChannelGroup* gp = group_with(*mixed, "p", MemberRole::kProducer);
  ASSERT_NE(gp, nullptr);
  EXPECT_FALSE(gp->prunable);
  EXPECT_NE(gp->reason.find("concatenated differently"), std::string::npos) << gp->reason;
}

// A grouped conv with as many outputs as inputs per group (ResNeXt, RegNet) passes channels through;
// its groups go whole, so the channel group moves in blocks of the per-group width.
TEST(ChannelGroups, GroupedConvMovesWholeGroups) {
  Net n;
  Value* x = n.input({1, 3, 8, 8});
  Value* a = n.unary(OpKind::Relu, n.conv(x, 3, 12, "c1"), "r1");
  Value* g = n.unary(OpKind::Relu, n.bn(n.conv(a, 12, 12, "grouped", /*group=*/3), 12, "bn_g"), "r2");
  n.head(n.conv(g, 12, 5, "c2"), 5, 3);
  HQP_ASSERT_OK(ir::verify_and_infer(n.g));
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(n.g);
  HQP_ASSERT_OK(groups.status());
  const ChannelGroup* g1 = group_with(*groups, "c1", MemberRole::kProducer);
  ASSERT_NE(g1, nullptr);
  EXPECT_TRUE(g1->prunable) << g1->reason;
  EXPECT_EQ(group_with(*groups, "grouped", MemberRole::kPassThrough), g1);
  EXPECT_EQ(group_with(*groups, "c2", MemberRole::kConsumer), g1);
  EXPECT_EQ(g1->block, 4);
  EXPECT_EQ(g1->max_removable, 8) << "keeps one conv group of 4";
  // Not whole, aligned groups: refused, graph unchanged.
  Graph copy = n.g.clone();
  EXPECT_EQ(prune::remove_channels(copy, *g1, std::vector<int64_t>{0, 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(prune::remove_channels(copy, *g1, std::vector<int64_t>{2, 3, 4, 5}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(copy.find_node("grouped")->input(1)->data.shape(), (Shape{12, 4, 3, 3}));
  // The middle group goes: 2 groups of 4 stay, masking == removal.
  const std::vector<int64_t> mid = {4, 5, 6, 7};
  Graph masked = n.g.clone();
  Graph pruned = n.g.clone();
  HQP_ASSERT_OK(prune::mask_channels(masked, *g1, mid));
  HQP_ASSERT_OK(prune::remove_channels(pruned, *g1, mid));
  EXPECT_EQ(pruned.find_node("grouped")->input(1)->data.shape(), (Shape{8, 4, 3, 3}));
  EXPECT_EQ(pruned.find_node("grouped")->attr<ir::ConvAttrs>().group, 2);
  EXPECT_EQ(pruned.find_node("c2")->input(1)->data.shape(), (Shape{5, 8, 3, 3}));
  const Tensor in = random_tensor({2, 3, 8, 8}, 19, 1.0f);
  EXPECT_LE(max_relative_error(run_fast(pruned, in), run_fast(masked, in)), kPruneMaxRelErr);
  // Selection hands out whole blocks, lowest mean score first; round_to 8 with blocks of 4: units of 8.
  prune::GroupScores scores(groups->size());
  const size_t gi = static_cast<size_t>(g1 - groups->data());
  scores[gi] = {5, 5, 5, 5, 0, 9, 0, 0, 1, 1, 1, 1};  // means 5, 2.25, 1
  std::vector<prune::GroupCost> costs = prune::channel_costs(n.g, *groups).value();
  prune::SelectOptions so;
  so.macs_budget = 1.0;  // one unit
  std::vector<prune::Removal> r = prune::select_channels(*groups, scores, costs, so);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].channels, (std::vector<int64_t>{8, 9, 10, 11}));
  so.macs_budget = 1e12;
  r = prune::select_channels(*groups, scores, costs, so);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].channels, (std::vector<int64_t>{4, 5, 6, 7, 8, 9, 10, 11}));
  prune::GroupOptions go;
  go.round_to = 8;
  Result<std::vector<ChannelGroup>> rounded = prune::channel_groups(n.g, go);
  HQP_ASSERT_OK(rounded.status());
  EXPECT_EQ(group_with(*rounded, "c1", MemberRole::kProducer)->max_removable, 4) << "keep 8 = lcm(4, 8)";
  EXPECT_EQ(check_every_group(n.g, random_tensor({2, 3, 8, 8}, 20), "grouped"), 2);
}

TEST(ChannelGroups, RemovingChannelsShrinksWeightsAndMacs) {
  Net n;
  Value* x = n.input({1, 3, 8, 8});
  Value* a = n.unary(OpKind::Relu, n.bn(n.conv(x, 3, 6, "c1"), 6, "bn1"), "r1");
  n.head(n.conv(a, 6, 5, "c2"), 5, 4);
  HQP_ASSERT_OK(ir::verify_and_infer(n.g));
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(n.g);
  HQP_ASSERT_OK(groups.status());
  const ChannelGroup* g1 = group_with(*groups, "c1", MemberRole::kProducer);
  ASSERT_NE(g1, nullptr);
  HQP_ASSERT_OK(prune::remove_channels(n.g, *g1, std::vector<int64_t>{1, 4}));
  EXPECT_EQ(n.g.find_node("c1")->input(1)->data.shape(), (Shape{4, 3, 3, 3}));
  EXPECT_EQ(n.g.find_node("c1")->input(2)->data.shape(), (Shape{4}));
  EXPECT_EQ(n.g.find_node("bn1")->input(3)->data.shape(), (Shape{4}));
  EXPECT_EQ(n.g.find_node("c2")->input(1)->data.shape(), (Shape{5, 4, 3, 3}));
  EXPECT_EQ(shape_of(n.g.find_node("r1")->output(0)), "[N,4,8,8]");
}

// ConvNeXt's MLP on a channels-last tensor: Transpose -> MatMul (B [6, 10]) -> + bias -> Relu ->
// MatMul (B [10, 6]). The 10 hidden channels sit on the last axis: MatMul 1 produces them (B's
// columns), the bias Add slices its last axis, MatMul 2 reads them (B's rows). The Transpose blocks
// the conv's channels, and a reduction over the channels-last tensor's H and W blocks its output.
TEST(ChannelGroups, ChannelsLastMatMulMlp) {
  Net n;
  Value* x = n.input({1, 3, 8, 8});
  Value* c = n.conv(x, 3, 6, "c1");
  Value* t = n.g.add_value("t.y");
  n.g.add_node(OpKind::Transpose, "t", {c}, {t}, ir::TransposeAttrs{{0, 2, 3, 1}});
  auto matmul = [&](Value* a, int64_t k, int64_t cols, const std::string& name) {
    Value* w = n.g.add_initializer(name + ".w", random_tensor({k, cols}, n.seed++));
    Value* b = n.g.add_initializer(name + ".b", random_tensor({cols}, n.seed++));
    return n.binary(OpKind::Add, n.binary(OpKind::MatMul, a, w, name), b, name + "_bias");
  };
  Value* h = n.unary(OpKind::Relu, matmul(t, 6, 10, "m1"), "act");
  Value* o = matmul(h, 10, 6, "m2");
  Value* r = n.g.add_value("mean.y");
  ir::ReduceAttrs ra;
  ra.axes = std::vector<int64_t>{1, 2};
  ra.keepdims = 0;
  n.g.add_node(OpKind::ReduceMean, "mean", {o}, {r}, ra);
  Value* w = n.g.add_initializer("fc.w", random_tensor({4, 6}, n.seed++));
  Value* y = n.g.add_value("logits");
  ir::GemmAttrs ga;
  ga.trans_b = 1;
  n.g.add_node(OpKind::Gemm, "fc", {r, w}, {y}, ga);
  n.g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(n.g));
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(n.g);
  HQP_ASSERT_OK(groups.status());
  const ChannelGroup* hidden = group_with(*groups, "m1", MemberRole::kProducer);
  ASSERT_NE(hidden, nullptr);
  EXPECT_TRUE(hidden->prunable) << hidden->reason;
  EXPECT_EQ(hidden->channels, 10);
  EXPECT_EQ(group_with(*groups, "m2", MemberRole::kConsumer), hidden);
  EXPECT_EQ(group_with(*groups, "m1_bias", MemberRole::kConstOperand), hidden);
  for (const prune::Member& m : hidden->members) EXPECT_TRUE(m.last_axis) << m.node;
  const ChannelGroup* conv = group_with(*groups, "c1", MemberRole::kProducer);
  ASSERT_NE(conv, nullptr);
  EXPECT_FALSE(conv->prunable);
  const ChannelGroup* out = group_with(*groups, "m2", MemberRole::kProducer);
  ASSERT_NE(out, nullptr);
  EXPECT_FALSE(out->prunable);
  EXPECT_NE(out->reason.find("ReduceMean 'mean' reads channels-last activations"), std::string::npos) << out->reason;
  // Removal slices B's columns, the bias and the next B's rows; masking agrees with it.
  Graph pruned = n.g.clone();
  HQP_ASSERT_OK(prune::remove_channels(pruned, *hidden, std::vector<int64_t>{1, 4, 5}));
  EXPECT_EQ(pruned.find_node("m1")->input(1)->data.shape(), (Shape{6, 7}));
  EXPECT_EQ(pruned.find_node("m1_bias")->input(1)->data.shape(), (Shape{7}));
  EXPECT_EQ(pruned.find_node("m2")->input(1)->data.shape(), (Shape{7, 6}));
  EXPECT_EQ(check_every_group(n.g, random_tensor({2, 3, 8, 8}, 7, 1.0f), "mlp"), 1);
}

struct ZooCase {
  const char* arch;
};

class ZooGroups : public ::testing::TestWithParam<ZooCase> {};

TEST_P(ZooGroups, MaskingEqualsRemovalForEveryGroup) {
  train::ZooOptions o;
  o.in_channels = 1;
  o.num_classes = 10;
  o.small_input = true;
  o.input_size = 28;
  Result<Graph> g = train::build_zoo_model(GetParam().arch, o);
  HQP_ASSERT_OK(g.status());
  const int checked = check_every_group(*g, random_tensor({2, 1, 28, 28}, 5, 1.0f), GetParam().arch);
  EXPECT_GE(checked, 5) << GetParam().arch;
  RecordProperty("groups_checked", checked);
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooGroups,
                         ::testing::Values(ZooCase{"resnet18"}, ZooCase{"mobilenet_v2"}, ZooCase{"mobilenet_v3_small"}),
                         [](const auto& info) { return std::string(info.param.arch); });

class GoldenGroups : public ::testing::TestWithParam<const char*> {};

// torchvision models exported by PyTorch (tests/golden/make_golden.py): what users bring.
TEST_P(GoldenGroups, MaskingEqualsRemovalForEveryGroup) {
  const std::string path = std::string(HQP_GOLDEN_DIR) + "/" + GetParam() + "/model.onnx";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing (CTest fixture golden_models_generate)";
  Result<Graph> g = onnx_io::import_model_file(path);
  HQP_ASSERT_OK(g.status());
  const int checked = check_every_group(*g, random_tensor({1, 3, 224, 224}, 3, 1.0f), GetParam());
  EXPECT_GE(checked, 5) << GetParam();
  RecordProperty("groups_checked", checked);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, GoldenGroups,
                         ::testing::Values("resnet18_op13", "mobilenet_v2_op13", "mobilenet_v3_small_op13",
                                           "mobilenet_v3_large_op17"));

// QDQ files (hqp's quantizer, both placements): activations' per-tensor Q/DQ pairs carry channels,
// weights and biases behind DequantizeLinear are sliced with their per-channel scales; masking
// (weights set to their zero point) == removal on the INT8 fast runtime.
class QdqGroups : public ::testing::TestWithParam<std::tuple<const char*, quant::QdqStyle>> {};

TEST_P(QdqGroups, MaskingEqualsRemovalForEveryGroup) {
  const auto [arch, style] = GetParam();
  train::ZooOptions o;
  o.in_channels = 1;
  o.num_classes = 10;
  o.small_input = true;
  o.input_size = 28;
  Result<Graph> g = train::build_zoo_model(arch, o);
  HQP_ASSERT_OK(g.status());
  Result<std::vector<ChannelGroup>> float_groups = prune::channel_groups(*g);
  HQP_ASSERT_OK(float_groups.status());
  quant::CalibrationData calib;
  for (uint32_t b = 0; b < 2; ++b) calib.batches.push_back({random_tensor({4, 1, 28, 28}, 40 + b, 1.0f)});
  quant::QdqOptions qo;
  qo.style = style;
  HQP_ASSERT_OK(quant::insert_qdq(*g, calib, qo).status());
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(*g);
  HQP_ASSERT_OK(groups.status());
  auto prunable = [](const std::vector<ChannelGroup>& gs) {
    return std::count_if(gs.begin(), gs.end(), [](const ChannelGroup& x) { return x.prunable; });
  };
  EXPECT_EQ(prunable(*groups), prunable(*float_groups)) << "quantization hides no group";
  const int checked = check_every_group(*g, random_tensor({2, 1, 28, 28}, 5, 1.0f), arch);
  EXPECT_EQ(checked, prunable(*groups));
  // Per-channel weight scales shrink with the weights.
  const ChannelGroup& first = *std::find_if(groups->begin(), groups->end(), [](const ChannelGroup& x) { return x.prunable; });
  Graph pruned = g->clone();
  HQP_ASSERT_OK(prune::remove_channels(pruned, first, std::vector<int64_t>{0}));
  for (const prune::Member& m : first.members) {
    if (m.role != MemberRole::kProducer) continue;
    const ir::Node* dq = prune::dequantized_constant(pruned.find_node(m.node)->input(1));
    ASSERT_NE(dq, nullptr) << m.node;
    EXPECT_EQ(dq->input(1)->data.dim(0), first.channels - 1) << m.node;
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, QdqGroups,
                         ::testing::Combine(::testing::Values("resnet18", "mobilenet_v3_small"),
                                            ::testing::Values(quant::QdqStyle::kOrt, quant::QdqStyle::kTrt)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param)) + "_" +
                                  std::string(quant::qdq_style_name(std::get<1>(info.param)));
                         });

struct TorchvisionCase {
  const char* model;
  int min_prunable;  // groups that must be prunable (the rest are listed blocked, with a reason)
};

void PrintTo(const TorchvisionCase& c, std::ostream* os) { *os << c.model; }

class TorchvisionZooGroups : public ::testing::TestWithParam<TorchvisionCase> {};

// More torchvision architectures (tests/prune/make_torchvision_zoo.py, 64x64): concat-heavy
// (GoogLeNet, SqueezeNet), bottlenecks, grouped convs, SiLU and SE blocks.
TEST_P(TorchvisionZooGroups, MaskingEqualsRemovalForEveryGroup) {
  const std::string path = std::string(HQP_TORCHVISION_ZOO_DIR) + "/" + GetParam().model + "/model.onnx";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing (CTest fixture prune_torchvision_generate)";
  Result<Graph> g = onnx_io::import_model_file(path);
  HQP_ASSERT_OK(g.status());
  Result<std::vector<ChannelGroup>> groups = prune::channel_groups(*g);
  HQP_ASSERT_OK(groups.status());
  for (const ChannelGroup& grp : *groups) {
    if (!grp.prunable) {
      EXPECT_FALSE(grp.reason.empty()) << GetParam().model << " group " << grp.id;
    }
  }
  // 64x64, or the larger input the exporter gave the model (Inception-v3, AlexNet): [batch, 3, S, S].
  const ir::Value* in = g->inputs().at(0);
  ASSERT_TRUE(in->shape && in->shape->size() == 4 && (*in->shape)[2].is_static()) << GetParam().model;
  const int64_t size = (*in->shape)[2].value;
  const int checked = check_every_group(*g, random_tensor({1, 3, size, size}, 3, 1.0f), GetParam().model);
  EXPECT_GE(checked, GetParam().min_prunable) << GetParam().model;
  RecordProperty("groups_checked", checked);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, TorchvisionZooGroups,
                         ::testing::Values(TorchvisionCase{"googlenet", 57}, TorchvisionCase{"squeezenet1_1", 25},
                                           TorchvisionCase{"resnet50", 37}, TorchvisionCase{"resnext50_32x4d", 21},
                                           TorchvisionCase{"efficientnet_b0", 40},
                                           TorchvisionCase{"regnet_y_400mf", 37},
                                           TorchvisionCase{"regnet_x_400mf", 27},
                                           TorchvisionCase{"densenet121", 120},
                                           TorchvisionCase{"shufflenet_v2_x1_0", 18},
                                           TorchvisionCase{"mnasnet1_0", 25},
                                           TorchvisionCase{"efficientnet_v2_s", 75},
                                           TorchvisionCase{"convnext_tiny", 18}, TorchvisionCase{"inception_v3", 94},
                                           TorchvisionCase{"alexnet", 7}),
                         [](const auto& info) { return std::string(info.param.model); });

}  // namespace
}  // namespace hqp::test
