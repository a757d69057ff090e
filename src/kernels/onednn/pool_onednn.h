// Pooling kernels on oneDNN: max (f32, u8, s8), average (f32, count_include_pad either way) and
// global average (f32) with the ONNX semantics of kernels/ref/pool.h. Not: MaxPool's Indices
// output, INT8 average pooling, ceil_mode overhang with count_include_pad (rejected by applies()).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/onednn/onednn_common.h"
#include "kernels/ref/pool.h"

namespace hqp::kernels::onednn {

enum class PoolAlgorithm { kMax, kAverage };

struct PoolOnednnParams {
  PoolParams pool;                        // geometry (kernels/ref/pool.h), spatial_rank 1..3
  PoolAlgorithm algorithm = PoolAlgorithm::kMax;
  DType dtype = DType::kF32;              // f32; u8 or s8 for kMax only
  Layout layout = Layout::kNchw;          // of src and dst
};

// Params of ONNX GlobalAveragePool over [N, C, in_size...]: an average pool whose window is the
// whole input (dst [N, C, 1, ...]).
PoolOnednnParams global_average_pool_params(int64_t batch, int64_t channels, int spatial_rank,
                                            const int64_t* in_size, Layout layout);

// Lifecycle: applies() / create() / run(); no weights. Not thread-safe per object.
class PoolOnednn {
 public:
  // "maxpool_f32__onednn", "maxpool_u8__onednn", "maxpool_s8__onednn", "averagepool_f32__onednn".
  static std::string_view name(const PoolOnednnParams& params);
  static Status applies(const PoolOnednnParams& params);
  static Result<PoolOnednn> create(const PoolOnednnParams& params);
  // src: [N, C, in_size...], dst: [N, C, out_size...] of params.dtype in params.layout.
  Status run(const void* src, void* dst);

  const PoolOnednnParams& params() const { return params_; }
  const std::string& implementation() const;

  PoolOnednn(PoolOnednn&&) noexcept;
  PoolOnednn& operator=(PoolOnednn&&) noexcept;
  ~PoolOnednn();

 private:
  PoolOnednn() = default;
  PoolOnednnParams params_;
  std::unique_ptr<detail::Executable> exec_;
};

}  // namespace hqp::kernels::onednn
