// Execution hooks: interfaces through which every executor (reference, libtorch, later the fast
// runtime) lets a caller see values as they are computed — calibration ranges, Fisher statistics.
// Interfaces only: no executor, no libtorch, no computation here.
#pragma once

#include "core/tensor.h"
#include "ir/graph.h"

namespace hqp::ir {

// Observes values as nodes produce them (calibration observers, activation statistics). The tensor
// is only valid during the call: an observer that needs less than the whole activation reduces it
// there instead of copying it. Called once per produced value, on the executing thread.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_output(const Node& node, const Value& value, const Tensor& tensor) = 0;
};

// Receives the Fisher term of observed activations during a backward pass. For an observed value a
// (an [N, C, ...] float output) with gradient g = dLoss/da, on_channel_fisher gets
// a_dot_g[n, c] = Σ_{spatial} a[n, c, ...] · g[n, c, ...]. Executors form only the product: no
// activation is copied or kept beyond what autograd keeps anyway.
class GradientObserver {
 public:
  virtual ~GradientObserver() = default;
  // Asked once per observed forward for each float output of rank >= 2.
  virtual bool observes(const Node& node, const Value& value) = 0;
  // The observed value's channel axis (asked once per observed value and forward): 1 (NCHW), or its
  // last axis where a channels-last tensor is probed. a_dot_g sums over every other axis but 0.
  virtual int64_t channel_axis(const Node& node, const Value& value) {
    (void)node;
    (void)value;
    return 1;
  }
  // a_dot_g: f32 [N, C], valid only during the call. Called on the thread that runs backward.
  virtual void on_channel_fisher(const Node& node, const Value& value, const Tensor& a_dot_g) = 0;
};

}  // namespace hqp::ir
