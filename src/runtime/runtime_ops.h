// Runtime ops of the fast runtime: one object per plan step, created once per plan (weights
// prepacked), run many times on raw pointers. Kernel choice is an ordered candidate list per
// node — oneDNN kernels first, the reference kernels last (always apply); every rejected
// candidate says why (shown by `--verbose`).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "kernels/onednn/onednn_common.h"

namespace hqp::runtime {

using kernels::onednn::Layout;

// What a step knows about one of its tensors at plan time. shape is logical ([N, C, spatial...]
// for activations); layout is the memory order of rank 3..5 activations.
struct SlotInfo {
  DType dtype = DType::kUndefined;
  Shape shape;
  Layout layout = Layout::kNchw;
};

// True when the tensor's bytes are the same in NCHW and NHWC (rank < 3, or all spatial dims 1).
bool layout_agnostic(const Shape& shape);

class RuntimeOp {
 public:
  virtual ~RuntimeOp() = default;
  // in/out: one pointer per node input/output slot (nullptr for absent optional ones).
  virtual Status run(std::span<const void* const> in, std::span<void* const> out) = 0;
  virtual std::string implementation() const = 0;
  virtual int64_t weight_bytes() const { return 0; }
};

struct OpChoice {
  std::unique_ptr<RuntimeOp> op;
  // Required layout per input (ignored for absent, constant or layout-agnostic inputs).
  std::vector<Layout> input_layouts;
  Layout output_layout = Layout::kNchw;
};

// Picks the first applicable candidate for `node` (whose graph has static shapes). `inputs` has
// one entry per node input (dtype undefined for absent ones) with the layout each currently has.
// `use_fast_kernels` false: the reference kernels only. Rejections are appended to `rejected`.
Result<OpChoice> select_op(const ir::Node& node, const std::vector<SlotInfo>& inputs, int64_t opset,
                           bool use_fast_kernels, std::vector<std::string>* rejected);

// A layout conversion of one activation tensor (NCHW <-> NHWC).
Result<std::unique_ptr<RuntimeOp>> make_reorder(const SlotInfo& src, Layout dst_layout);

}  // namespace hqp::runtime
