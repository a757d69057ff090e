// Tests of ir::Graph bookkeeping: creation, use lists under mutation, clone independence, dead
// code removal, topological order and cycle detection. No shape inference or execution here.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "ir/graph.h"
#include "ir/printer.h"

namespace hqp::ir {
namespace {

using test::dims;

// x -> Relu(relu) -> y -> Add(add, y, w) -> z (graph output); w is an initializer.
struct SmallGraph {
  Graph g;
  Value* x;
  Value* w;
  Value* y;
  Value* z;
  Node* relu;
  Node* add;
  SmallGraph() {
    x = g.add_input("x", DType::kF32, dims({"N", 4}));
    w = g.add_initializer("w", test::full_f32({4}, 1.0f));
    y = g.add_value("y");
    z = g.add_value("z");
    relu = g.add_node(OpKind::Relu, "relu", {x}, {y});
    add = g.add_node(OpKind::Add, "add", {y, w}, {z});
    g.add_output(z);
  }
};

std::vector<std::string> names(const std::vector<Node*>& nodes) {
  std::vector<std::string> out;
  for (const Node* n : nodes) out.push_back(n->name);
  return out;
}

TEST(Graph, CreationRecordsProducersUsesAndRoles) {
  SmallGraph s;
  EXPECT_EQ(s.x->producer(), nullptr);
  EXPECT_EQ(s.y->producer(), s.relu);
  EXPECT_EQ(s.y->producer_output_index(), 0);
  EXPECT_EQ(s.z->producer(), s.add);
  EXPECT_EQ(s.x->uses(), (std::vector<Use>{{s.relu, 0}}));
  EXPECT_EQ(s.y->uses(), (std::vector<Use>{{s.add, 0}}));
  EXPECT_EQ(s.w->uses(), (std::vector<Use>{{s.add, 1}}));
  EXPECT_TRUE(s.z->uses().empty());

  // Initializers are not runtime inputs; inputs are not initializers.
  EXPECT_EQ(s.g.inputs(), (std::vector<Value*>{s.x}));
  EXPECT_EQ(s.g.initializers(), (std::vector<Value*>{s.w}));
  EXPECT_TRUE(s.w->is_initializer());
  EXPECT_FALSE(s.x->is_initializer());
  EXPECT_EQ(s.w->dtype, DType::kF32);
  EXPECT_EQ(test::shape_of(s.w), "[4]");
  EXPECT_TRUE(s.g.is_graph_input(s.x));
  EXPECT_FALSE(s.g.is_graph_input(s.w));
  EXPECT_TRUE(s.g.is_graph_output(s.z));
  EXPECT_FALSE(s.g.is_graph_output(s.y));

  EXPECT_EQ(s.g.find_value("y"), s.y);
  EXPECT_EQ(s.g.find_value("nope"), nullptr);
  EXPECT_EQ(s.g.find_node("add"), s.add);
  EXPECT_EQ(s.g.find_node("y"), nullptr);  // values and nodes have separate lookups
  EXPECT_EQ(s.add->input(1), s.w);
  EXPECT_EQ(s.add->input(2), nullptr);  // past the end reads as absent
  EXPECT_EQ(s.g.nodes().size(), 2u);
  EXPECT_EQ(s.g.values().size(), 4u);
}

TEST(Graph, DefaultAttributesMatchTheOp) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({1, 1, 4, 4}));
  Value* w = g.add_initializer("w", test::full_f32({1, 1, 3, 3}, 1.0f));
  Node* conv = g.add_node(OpKind::Conv, "conv", {x, w}, {g.add_value("y")});
  ASSERT_TRUE(std::holds_alternative<ConvAttrs>(conv->attrs));
  EXPECT_EQ(conv->attr<ConvAttrs>().group, 1);
  EXPECT_EQ(conv->attr<ConvAttrs>().auto_pad, AutoPad::kNotSet);
  Node* gemm = g.add_node(OpKind::Gemm, "gemm", {x, w}, {g.add_value("z")});
  EXPECT_EQ(gemm->attr<GemmAttrs>().alpha, 1.0f);
  EXPECT_EQ(gemm->attr<GemmAttrs>().trans_b, 0);
}

TEST(Graph, SetInputMovesTheUse) {
  SmallGraph s;
  s.g.set_input(s.add, 1, s.x);  // w -> x
  EXPECT_TRUE(s.w->uses().empty());
  EXPECT_EQ(s.x->uses(), (std::vector<Use>{{s.relu, 0}, {s.add, 1}}));
  EXPECT_EQ(s.add->input(1), s.x);

  s.g.set_input(s.add, 1, nullptr);  // absent optional input
  EXPECT_EQ(s.x->uses(), (std::vector<Use>{{s.relu, 0}}));
  EXPECT_EQ(s.add->input(1), nullptr);
  EXPECT_EQ(s.add->num_inputs(), 2u);

  s.g.set_input(s.add, 3, s.w);  // past the end: grows with absent entries
  EXPECT_EQ(s.add->num_inputs(), 4u);
  EXPECT_EQ(s.add->input(2), nullptr);
  EXPECT_EQ(s.w->uses(), (std::vector<Use>{{s.add, 3}}));
}

TEST(Graph, SetInputOfTheSameValueTwiceKeepsBothUses) {
  SmallGraph s;
  s.g.set_input(s.add, 1, s.y);  // Add(y, y)
  EXPECT_EQ(s.y->uses(), (std::vector<Use>{{s.add, 0}, {s.add, 1}}));
  s.g.set_input(s.add, 0, s.x);  // only the use at index 0 goes away
  EXPECT_EQ(s.y->uses(), (std::vector<Use>{{s.add, 1}}));
}

TEST(Graph, ReplaceAllUsesRewiresConsumersAndGraphOutputs) {
  SmallGraph s;
  Value* y2 = s.g.add_value("y2");
  Node* relu2 = s.g.add_node(OpKind::Relu, "relu2", {s.x}, {y2});
  s.g.add_output(s.y);  // y is also a graph output now

  s.g.replace_all_uses(s.y, y2);
  EXPECT_TRUE(s.y->uses().empty());
  EXPECT_EQ(y2->uses(), (std::vector<Use>{{s.add, 0}}));
  EXPECT_EQ(s.add->input(0), y2);
  EXPECT_EQ(s.g.outputs(), (std::vector<Value*>{s.z, y2}));
  EXPECT_EQ(s.y->producer(), s.relu);  // the producer side is untouched
  EXPECT_EQ(y2->producer(), relu2);
}

TEST(Graph, RemoveNodeDetachesItsInputsAndKeepsItsOutputs) {
  SmallGraph s;
  s.g.remove_node(s.add);
  EXPECT_EQ(s.g.nodes().size(), 1u);
  EXPECT_EQ(s.g.find_node("add"), nullptr);
  EXPECT_TRUE(s.y->uses().empty());
  EXPECT_TRUE(s.w->uses().empty());
  ASSERT_EQ(s.g.find_value("z"), s.z);  // the output value stays, without producer
  EXPECT_EQ(s.z->producer(), nullptr);
  EXPECT_EQ(s.z->producer_output_index(), -1);
}

TEST(Graph, RemoveValueForgetsTheName) {
  SmallGraph s;
  Value* spare = s.g.add_value("spare");
  s.g.remove_value(spare);
  EXPECT_EQ(s.g.find_value("spare"), nullptr);
  EXPECT_EQ(s.g.values().size(), 4u);
  EXPECT_NE(s.g.add_value("spare"), nullptr);  // the name is free again
}

TEST(Graph, UniqueNameAvoidsValueAndNodeNames) {
  SmallGraph s;
  EXPECT_EQ(s.g.unique_name("fresh"), "fresh");
  const std::string a = s.g.unique_name("y");     // a value name
  const std::string b = s.g.unique_name("relu");  // a node name
  EXPECT_NE(a, "y");
  EXPECT_NE(b, "relu");
  EXPECT_EQ(a.rfind("y_", 0), 0u) << a;
  EXPECT_EQ(s.g.find_value(a), nullptr);
  EXPECT_EQ(s.g.find_node(b), nullptr);
}

TEST(Graph, CloneIsADeepIndependentCopy) {
  SmallGraph s;
  s.g.info.graph_name = "original";
  s.add->doc_string = "adds w";
  s.y->quant = QuantParams{{0.5f}, {3}, std::nullopt, DType::kU8};
  Graph c = s.g.clone();

  EXPECT_EQ(dump(c), dump(s.g));
  EXPECT_EQ(c.info.graph_name, "original");
  Value* cx = c.find_value("x");
  Value* cy = c.find_value("y");
  Value* cw = c.find_value("w");
  Node* cadd = c.find_node("add");
  Node* crelu = c.find_node("relu");
  ASSERT_TRUE(cx && cy && cw && cadd && crelu);
  EXPECT_NE(cx, s.x);
  EXPECT_NE(cadd, s.add);
  EXPECT_EQ(cadd->doc_string, "adds w");
  EXPECT_EQ(cy->quant, s.y->quant);
  // The clone's use lists and producers point into the clone.
  EXPECT_EQ(cy->producer(), crelu);
  EXPECT_EQ(cy->uses(), (std::vector<Use>{{cadd, 0}}));
  EXPECT_EQ(c.inputs(), (std::vector<Value*>{cx}));
  EXPECT_EQ(c.outputs(), (std::vector<Value*>{c.find_value("z")}));
  // Initializer storage is shared (documented): same bytes, same buffer.
  EXPECT_TRUE(cw->data.equals(s.w->data));
  EXPECT_EQ(cw->data.raw_data(), s.w->data.raw_data());

  // Mutating the clone leaves the original alone.
  const std::string before = dump(s.g);
  c.set_input(cadd, 1, cx);
  c.remove_node(crelu);
  cadd->attrs = NoAttrs{};
  cadd->name = "renamed";
  cx->shape = dims({7, 4});
  cw->data = test::full_f32({4}, 2.0f);  // replace, do not write into, shared data
  c.info.graph_name = "clone";
  EXPECT_EQ(dump(s.g), before);
  EXPECT_EQ(s.g.nodes().size(), 2u);
  EXPECT_EQ(s.w->uses(), (std::vector<Use>{{s.add, 1}}));
  EXPECT_EQ(s.y->producer(), s.relu);
  EXPECT_EQ(s.w->data.data<float>()[0], 1.0f);
  EXPECT_EQ(test::shape_of(s.x), "[N,4]");
  EXPECT_EQ(s.g.find_node("renamed"), nullptr);
}

TEST(Graph, RemoveDeadCodeDropsUnreachableNodesAndUnusedValues) {
  SmallGraph s;
  // A dead branch: y -> Sigmoid -> dead1 -> Relu -> dead2 (nothing reads dead2).
  Value* dead1 = s.g.add_value("dead1");
  Value* dead2 = s.g.add_value("dead2");
  s.g.add_node(OpKind::Sigmoid, "sig", {s.y}, {dead1});
  s.g.add_node(OpKind::Relu, "dead_relu", {dead1}, {dead2});
  s.g.add_initializer("unused_w", test::full_f32({3}, 0.0f));
  s.g.add_value("orphan");
  Value* unused_in = s.g.add_input("unused_in", DType::kF32, dims({2}));

  s.g.remove_dead_code();
  std::vector<std::string> node_names;
  for (const auto& n : s.g.nodes()) node_names.push_back(n->name);
  EXPECT_EQ(node_names, (std::vector<std::string>{"relu", "add"}));
  EXPECT_EQ(s.g.find_value("dead1"), nullptr);
  EXPECT_EQ(s.g.find_value("dead2"), nullptr);
  EXPECT_EQ(s.g.find_value("unused_w"), nullptr);
  EXPECT_EQ(s.g.find_value("orphan"), nullptr);
  EXPECT_EQ(s.g.find_value("unused_in"), unused_in);  // graph inputs are kept even when unused
  EXPECT_EQ(s.y->uses(), (std::vector<Use>{{s.add, 0}}));
  EXPECT_EQ(s.g.values().size(), 5u);  // x, w, y, z, unused_in
}

TEST(Graph, RemoveDeadCodeKeepsEverythingLive) {
  SmallGraph s;
  const std::string before = dump(s.g);
  s.g.remove_dead_code();
  EXPECT_EQ(dump(s.g), before);
}

// Chain a -> n1 -> n2 -> n3 -> n4 plus an independent node, inserted consumers first.
TEST(Graph, TopologicalOrderOfShuffledInsertion) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2}));
  Value* v1 = g.add_value("v1");
  Value* v2 = g.add_value("v2");
  Value* v3 = g.add_value("v3");
  Value* v4 = g.add_value("v4");
  Value* side = g.add_value("side");
  g.add_node(OpKind::Relu, "n4", {v3}, {v4});
  g.add_node(OpKind::Sigmoid, "independent", {x}, {side});
  g.add_node(OpKind::Add, "n3", {v2, v1}, {v3});
  g.add_node(OpKind::Relu, "n1", {x}, {v1});
  g.add_node(OpKind::Relu, "n2", {v1}, {v2});
  g.add_output(v4);
  g.add_output(side);

  Result<std::vector<Node*>> order = g.topological_order();
  HQP_ASSERT_OK(order.status());
  // Producers first; among ready nodes, insertion order (stable).
  EXPECT_EQ(names(*order), (std::vector<std::string>{"independent", "n1", "n2", "n3", "n4"}));
}

TEST(Graph, TopologicalOrderKeepsInsertionOrderWhenAlreadySorted) {
  SmallGraph s;
  auto order = s.g.topological_order();
  HQP_ASSERT_OK(order.status());
  EXPECT_EQ(names(*order), (std::vector<std::string>{"relu", "add"}));
}

TEST(Graph, TopologicalOrderReportsACycle) {
  Graph g;
  g.info.graph_name = "loopy";
  Value* x = g.add_input("x", DType::kF32, dims({2}));
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  Value* c = g.add_value("c");
  g.add_node(OpKind::Relu, "pre", {x}, {c});
  g.add_node(OpKind::Add, "cyc_a", {c, b}, {a});
  g.add_node(OpKind::Relu, "cyc_b", {a}, {b});
  g.add_output(b);

  Result<std::vector<Node*>> order = g.topological_order();
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = order.status().message();
  EXPECT_NE(m.find("cannot order graph 'loopy'"), std::string::npos) << m;
  EXPECT_NE(m.find("contains a cycle through node"), std::string::npos) << m;
  // The named node is on the cycle, not the acyclic 'pre'.
  EXPECT_TRUE(m.find("'cyc_a'") != std::string::npos || m.find("'cyc_b'") != std::string::npos) << m;
  EXPECT_EQ(m.find("'pre'"), std::string::npos) << m;
}

TEST(Graph, SelfLoopIsACycle) {
  Graph g;
  Value* a = g.add_value("a");
  g.add_node(OpKind::Relu, "self", {a}, {a});
  g.add_output(a);
  auto order = g.topological_order();
  EXPECT_TRUE(test::is_error(order.status(), StatusCode::kInvalidArgument, "contains a cycle through node 'self'"));
}

TEST(Graph, OpsetReadsTheDefaultDomain) {
  Graph g;
  EXPECT_EQ(g.opset(), 17);
  g.info.opset_imports = {{"com.microsoft", 1}, {"ai.onnx", 13}};
  EXPECT_EQ(g.opset(), 13);
  g.info.opset_imports = {{"com.microsoft", 1}};
  EXPECT_EQ(g.opset(), 0);
}

}  // namespace
}  // namespace hqp::ir
