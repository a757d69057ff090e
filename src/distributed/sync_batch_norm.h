// Internal to hqp_train: BatchNorm in training mode with statistics over the global batch of
// every rank (PyTorch's SyncBatchNorm). Torch-aware.
#pragma once

#include <ATen/ATen.h>

#include "distributed/process_group.h"

namespace hqp::distributed {

// x: [N, C, ...] (N >= 1 on this rank); weight, bias: [C]; running_mean / running_var: [C],
// updated in place as at::batch_norm does (torch momentum: new = (1 - m)·old + m·batch; the
// running variance is the unbiased one over the global count). Normalizes with the mean and
// biased variance of all ranks' x together; differentiable (the sums are all-reduced in forward
// and their gradients in backward). Every rank must call it for the same layers in the same order.
// Throws c10::Error when a collective fails.
at::Tensor sync_batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           const at::Tensor& running_mean, const at::Tensor& running_var, double momentum, double eps,
                           ProcessGroup& group);

}  // namespace hqp::distributed
