// Synthetic data for the pruner and pipeline tests: random images of a model's input shape [N, 1, 8,
// 8] labelled by the model's own argmax (so the model's top-1 on it is 100 %). Needs libtorch.
#pragma once

#include <algorithm>
#include <memory>

#include "common/prune_test_net.h"
#include "data/batch_source.h"
#include "train/torch_executor.h"

namespace hqp::test {

inline std::unique_ptr<data::TensorBatchSource> make_self_labelled_data(const ir::Graph& model, int64_t n, uint32_t seed,
                                                                        bool shuffle, int64_t batch) {
  Tensor x = random_tensor({n, 1, 8, 8}, seed, 1.0f);
  auto exec = train::TorchExecutor::create(model).value();
  const Tensor in[] = {x};
  Tensor logits = exec->run(in).value()[0];
  const int64_t k = logits.shape()[1];
  Tensor labels = Tensor::zeros(DType::kS64, {n}).value();
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data<float>() + i * k;
    labels.data<int64_t>()[i] = std::max_element(row, row + k) - row;
  }
  return data::TensorBatchSource::create(x, labels, batch, shuffle, seed).value();
}

}  // namespace hqp::test
