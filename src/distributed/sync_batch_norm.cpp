// SyncBatchNorm: per-channel sums all-reduced in forward through an autograd function whose
// backward all-reduces their gradients (d/dx_r of Σ_ranks sums = the sum of every rank's dL/dsum).
#include "distributed/sync_batch_norm.h"

#include <torch/csrc/autograd/custom_function.h>

#include "distributed/gloo_group.h"

namespace hqp::distributed {

namespace {

void all_reduce_in_place(ProcessGroup& group, at::Tensor& t) {
  const Status s = guarded(group, "synchronized BatchNorm", [&](c10d::ProcessGroupGloo& pg) {
    std::vector<at::Tensor> v{t};
    pg.allreduce(v)->wait();
  });
  TORCH_CHECK(s.ok(), s.message());
}

struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, ProcessGroup* group) {
    ctx->saved_data["group"] = reinterpret_cast<int64_t>(group);
    at::Tensor y = x.clone().contiguous();
    all_reduce_in_place(*group, y);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* group = reinterpret_cast<ProcessGroup*>(ctx->saved_data["group"].toInt());
    at::Tensor g = grads[0].clone().contiguous();
    all_reduce_in_place(*group, g);
    return {g, at::Tensor()};
  }
};

}  // namespace

at::Tensor sync_batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           const at::Tensor& running_mean, const at::Tensor& running_var, double momentum, double eps,
                           ProcessGroup& group) {
  const int64_t channels = x.size(1);
  std::vector<int64_t> reduce_dims = {0};
  for (int64_t d = 2; d < x.dim(); ++d) reduce_dims.push_back(d);
  const at::Tensor xf = x.to(weight.scalar_type());
  const double local_count = static_cast<double>(x.numel() / channels);
  // [sum | sum of squares | count] of this rank, then of all ranks.
  at::Tensor stats = at::cat({xf.sum(reduce_dims), (xf * xf).sum(reduce_dims),
                              at::full({1}, local_count, xf.options())});
  stats = AllReduceSum::apply(stats, &group);
  const at::Tensor count = stats.narrow(0, 2 * channels, 1);
  const at::Tensor mean = stats.narrow(0, 0, channels) / count;
  const at::Tensor var = (stats.narrow(0, channels, channels) / count - mean * mean).clamp_min(0.0);
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = channels;
  at::Tensor y = (xf - mean.view(shape)) * at::rsqrt(var.view(shape) + eps);
  if (weight.defined()) y = y * weight.view(shape);
  if (bias.defined()) y = y + bias.view(shape);
  {
    at::NoGradGuard no_grad;
    const double n = count.item<double>();
    const at::Tensor unbiased = n > 1.0 ? var.detach() * (n / (n - 1.0)) : var.detach();
    running_mean.mul_(1.0 - momentum).add_(mean.detach().to(running_mean.scalar_type()), momentum);
    running_var.mul_(1.0 - momentum).add_(unbiased.to(running_var.scalar_type()), momentum);
  }
  return y.to(x.scalar_type());
}

}  // namespace hqp::distributed
