// Backward of every differentiable op against central finite differences (f64), the Fisher
// backward hook against retained gradients, and the loss formulas. Uses torch directly
// (train/torch_module.h).
#include <cmath>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "train/fisher_accumulator.h"
#include "train/torch_module.h"
#include "train/train_test_util.h"
#include "train/train_tolerances.h"

namespace hqp::test {
namespace {

using train::ExecMode;
using train::TorchModule;

std::unique_ptr<TorchModule> make_module(const ir::Graph& g, bool double_precision) {
  train::ExecutorOptions o;
  o.double_precision = double_precision;
  auto m = TorchModule::create(g, o);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return std::move(m).value();
}

// L = Σ out · r for a fixed random r: its gradient exercises every output element.
// 0-d view of the element at row-major (logical) index i of t, whatever t's strides: parameters
// are channels-last, so a flat view() of their storage would be in another order (or impossible).
at::Tensor element(const at::Tensor& t, int64_t i) {
  std::vector<int64_t> index(static_cast<size_t>(t.dim()));
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    index[static_cast<size_t>(d)] = i % t.size(d);
    i /= t.size(d);
  }
  at::Tensor e = t;
  for (int64_t k : index) e = e.select(0, k);
  return e;
}

double scalar_loss(TorchModule& m, const std::vector<at::Tensor>& xs, const at::Tensor& r) {
  auto outs = m.forward(xs);
  EXPECT_TRUE(outs.ok()) << outs.status().message();
  return ((*outs)[0] * r).sum().item<double>();
}

void grad_check(const OpCase& c, ExecMode mode) {
  ir::Graph g = op_graph(c);
  auto m = make_module(g, true);
  m->set_mode(mode);
  std::vector<at::Tensor> xs;
  for (const Tensor& t : op_inputs(c)) {
    auto x = train::to_torch(t, at::kDouble);
    ASSERT_TRUE(x.ok());
    xs.push_back(x->requires_grad_(true));
  }
  auto outs = m->forward(xs);
  ASSERT_TRUE(outs.ok()) << outs.status().message();
  at::manual_seed(3);
  const at::Tensor r = at::randn((*outs)[0].sizes(), at::TensorOptions().dtype(at::kDouble));
  ((*outs)[0] * r).sum().backward();

  std::vector<std::pair<std::string, at::Tensor>> leaves;
  for (size_t i = 0; i < xs.size(); ++i) leaves.emplace_back("input " + std::to_string(i), xs[i]);
  for (size_t i = 0; i < m->parameters().size(); ++i) {
    leaves.emplace_back(m->parameter_info()[i].name, m->parameters()[i]);
  }
  for (auto& [name, leaf] : leaves) {
    ASSERT_TRUE(leaf.grad().defined()) << c.name << ": no gradient for " << name;
    const at::Tensor analytic = leaf.grad().clone().reshape({-1});
    const at::Tensor data = leaf.detach();  // shares storage: perturbs the leaf in place
    int bad = 0;
    for (int64_t i = 0; i < data.numel(); ++i) {
      at::Tensor e = element(data, i);
      const double orig = e.item<double>();
      double plus, minus;
      {
        at::NoGradGuard no_grad;
        e.fill_(orig + kGradCheckStep);
        plus = scalar_loss(*m, xs, r);
        e.fill_(orig - kGradCheckStep);
        minus = scalar_loss(*m, xs, r);
        e.fill_(orig);
      }
      const double numeric = (plus - minus) / (2.0 * kGradCheckStep);
      const double got = analytic[i].item<double>();
      if (std::fabs(got - numeric) > kGradCheckAtol + kGradCheckRtol * std::fabs(numeric) && ++bad <= 3) {
        ADD_FAILURE() << c.name << ": d/d " << name << "[" << i << "] analytic " << got << " numeric " << numeric;
      }
    }
    EXPECT_EQ(bad, 0) << c.name << ": " << name;
  }
}

// One test over all op cases (one process under CTest); failures name the case and the element.
TEST(GradCheckTest, EveryOpBackwardMatchesFiniteDifferences) {
  int checked = 0;
  for (const OpCase& c : op_cases()) {
    if (!c.differentiable) continue;
    SCOPED_TRACE(c.name);
    grad_check(c, ExecMode::kEval);
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(GradCheckTest, BatchNormTrainModeMatchesFiniteDifferences) {
  for (const OpCase& c : op_cases()) {
    if (c.kind == ir::OpKind::BatchNormalization) grad_check(c, ExecMode::kTrain);
  }
}

TEST(GradCheckTest, TinyClassifierEndToEnd) {
  // The whole tiny network (conv, BN eval, relu, GAP, flatten, dropout eval, gemm).
  ir::Graph g = tiny_classifier();
  OpCase dummy{"tiny_classifier", ir::OpKind::Identity, ir::NoAttrs{}, {}};
  auto m = make_module(g, true);
  auto x = train::to_torch(random_f32({2, 1, 8, 8}, 2), at::kDouble);
  ASSERT_TRUE(x.ok());
  std::vector<at::Tensor> xs = {x->requires_grad_(true)};
  auto outs = m->forward(xs);
  ASSERT_TRUE(outs.ok());
  const at::Tensor r = at::randn((*outs)[0].sizes(), at::TensorOptions().dtype(at::kDouble));
  ((*outs)[0] * r).sum().backward();
  at::Tensor w = m->parameters()[0];
  const at::Tensor analytic = w.grad().clone().reshape({-1});
  const at::Tensor data = w.detach();
  for (int64_t i = 0; i < data.numel(); ++i) {
    at::NoGradGuard no_grad;
    at::Tensor e = element(data, i);
    const double orig = e.item<double>();
    e.fill_(orig + kGradCheckStep);
    const double plus = scalar_loss(*m, xs, r);
    e.fill_(orig - kGradCheckStep);
    const double minus = scalar_loss(*m, xs, r);
    e.fill_(orig);
    const double numeric = (plus - minus) / (2.0 * kGradCheckStep);
    EXPECT_NEAR(analytic[i].item<double>(), numeric, kGradCheckAtol + kGradCheckRtol * std::fabs(numeric)) << i;
  }
}

// The backward hook's Σ_hw a·g equals the product formed from the retained gradient of the same
// activation, and FisherAccumulator squares and sums it over samples.
TEST(FisherHookTest, MatchesRetainedGradient) {
  ir::Graph g = tiny_classifier();
  g.add_output(g.find_value("bn"));  // expose the BN output to read its gradient
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  auto m = make_module(g, true);
  train::FisherAccumulator fisher;  // conv and BN outputs
  train::ForwardHooks hooks;
  hooks.gradient_observer = &fisher;
  auto x = train::to_torch(random_f32({3, 1, 8, 8}, 8), at::kDouble);
  ASSERT_TRUE(x.ok());
  const at::Tensor labels = at::tensor(std::vector<int64_t>{0, 1, 1});
  for (int pass = 0; pass < 2; ++pass) {
    auto outs = m->forward({*x}, hooks);
    ASSERT_TRUE(outs.ok()) << outs.status().message();
    at::Tensor bn = (*outs)[1];
    bn.retain_grad();
    train::classification_loss((*outs)[0], labels, 0.0).backward();
    const at::Tensor a_dot_g = (bn.detach() * bn.grad()).sum({2, 3});  // [N, C]
    const at::Tensor want = a_dot_g.pow(2).sum(0) * (pass + 1);       // accumulated over both passes
    const train::FisherAccumulator::Entry* e = fisher.find("bn");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->samples, 3 * (pass + 1));
    ASSERT_EQ(e->fisher.size(), 4u);
    for (int64_t c = 0; c < 4; ++c) {
      const double w = want[c].item<double>();
      // The hook hands f32 to the observer: compare at f32 precision.
      EXPECT_NEAR(e->fisher[static_cast<size_t>(c)], w, 1e-6 * std::max(1.0, std::fabs(w))) << c;
    }
  }
  EXPECT_NE(fisher.find("conv"), nullptr);
  EXPECT_EQ(fisher.find("relu"), nullptr);
}

TEST(FisherHookTest, NoHooksWithoutGradMode) {
  ir::Graph g = tiny_classifier();
  auto m = make_module(g, false);
  train::FisherAccumulator fisher;
  train::ForwardHooks hooks;
  hooks.gradient_observer = &fisher;
  at::NoGradGuard no_grad;
  auto x = train::to_torch(random_f32({2, 1, 8, 8}, 8));
  auto outs = m->forward({*x}, hooks);
  ASSERT_TRUE(outs.ok());
  EXPECT_TRUE(fisher.entries().empty());
}

// Train-mode Dropout: drops about `ratio` of the elements, scales the rest by 1/(1-ratio), and
// draws from the module's generator (same seed, same mask).
TEST(DropoutTest, TrainModeDropsAndScalesReproducibly) {
  OpCase c{"dropout", ir::OpKind::Dropout, ir::DropoutAttrs{},
           {OpInput::runtime({100, 100}, 1.0f, 2.0f), OpInput::init(Tensor::scalar<float>(0.3f))}};
  ir::Graph g = op_graph(c);
  auto m = make_module(g, false);
  m->set_mode(ExecMode::kTrain);
  auto x = train::to_torch(op_inputs(c)[0]);
  ASSERT_TRUE(x.ok());
  auto run = [&](uint64_t seed) {
    m->set_generator(at::make_generator<at::CPUGeneratorImpl>(seed));
    auto y = m->forward({*x});
    EXPECT_TRUE(y.ok());
    return (*y)[0];
  };
  const at::Tensor a = run(5), b = run(5), other = run(6);
  EXPECT_TRUE(a.equal(b));
  EXPECT_FALSE(a.equal(other));
  const at::Tensor dropped = a.eq(0);
  const double fraction = dropped.to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(fraction, 0.3, 0.03);
  const at::Tensor kept = at::logical_not(dropped);
  EXPECT_TRUE(at::allclose(a.masked_select(kept), x->masked_select(kept) / 0.7));
}

TEST(LossTest, LabelSmoothingCrossEntropyFormula) {
  at::manual_seed(1);
  const at::Tensor logits = at::randn({4, 5}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor labels = at::tensor(std::vector<int64_t>{0, 3, 4, 1});
  const double eps = 0.1;
  const at::Tensor logp = at::log_softmax(logits, 1);
  double want = 0;
  for (int64_t n = 0; n < 4; ++n) {
    const double nll = -logp[n][labels[n].item<int64_t>()].item<double>();
    const double uniform = -logp[n].mean().item<double>();
    want += (1 - eps) * nll + eps * uniform;
  }
  want /= 4;
  EXPECT_NEAR(train::classification_loss(logits, labels, eps).item<double>(), want, kLossAbsErr);
}

TEST(LossTest, DistillationFormula) {
  at::manual_seed(2);
  const at::Tensor s = at::randn({3, 6}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor t = at::randn({3, 6}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor labels = at::tensor(std::vector<int64_t>{5, 0, 2});
  const double alpha = 0.7, T = 3.0;
  const at::Tensor ps = at::softmax(s / T, 1), pt = at::softmax(t / T, 1);
  const double kl = (pt * (pt.log() - ps.log())).sum().item<double>() / 3.0;
  const double ce = train::classification_loss(s, labels, 0.0).item<double>();
  const double want = (1 - alpha) * ce + alpha * T * T * kl;
  EXPECT_NEAR(train::distillation_loss(s, t, labels, alpha, T, 0.0).item<double>(), want, kLossAbsErr);
  // Student equal to teacher: the KL term vanishes.
  EXPECT_NEAR(train::distillation_loss(s, s, labels, 1.0, T, 0.0).item<double>(), 0.0, kLossAbsErr);
}

}  // namespace
}  // namespace hqp::test
