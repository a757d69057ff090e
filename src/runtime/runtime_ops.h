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
#include "runtime/layout.h"

namespace hqp::runtime {

// What a step knows about one of its tensors at plan time. shape is logical ([N, C, spatial...]
// for activations); layout is the memory order of rank 3..5 activations.
struct SlotInfo {
  DType dtype = DType::kUndefined;
  Shape shape;
  Layout layout = Layout::kNchw;
};

class RuntimeOp {
 public:
  virtual ~RuntimeOp() = default;
  // in/out: one pointer per node input/output slot (nullptr for absent optional ones).
  virtual Status run(std::span<const void* const> in, std::span<void* const> out) = 0;
  virtual std::string implementation() const = 0;
  // Bytes of weights this op packed into memory of its own (0 when it reads the graph's tensors).
  virtual int64_t weight_bytes() const { return 0; }
  // Node inputs whose constant data this op copied into its own packed memory, never reads from the
  // graph again and can copy back out (unpack_input): the session may release the graph's copy.
  virtual std::vector<size_t> packed_inputs() const { return {}; }
  // Writes packed input `input` back into `dst` (allocated with the graph value's dtype and shape).
  virtual Status unpack_input(size_t input, Tensor& dst) const {
    return make_error(StatusCode::kInternal, "cannot unpack input {}: the op keeps no packed copy", input);
  }
};

struct OpChoice {
  std::unique_ptr<RuntimeOp> op;
  // Required layout per input (ignored for absent, constant or layout-agnostic inputs).
  std::vector<Layout> input_layouts;
  Layout output_layout = Layout::kNchw;
};

struct SelectOptions {
  bool fast_kernels = true;  // false: the reference kernels only
  // INT8 convolutions: time oneDNN's first few implementations on scratch data and keep the
  // fastest (kernels/onednn/conv_onednn.h, "Implementation choice"; bit-equal results).
  bool tune_kernels = true;
  // FP32 convolutions (and the pooling / element-wise ops after them) on kNchw8c activations where
  // the channel counts allow it (runtime/layout.h); kNhwc otherwise.
  bool blocked_f32 = false;
};

// Picks the first applicable candidate for `node` (whose graph has static shapes: every output
// value carries its concrete shape, which the reference fallback binds once). `inputs` has one
// entry per node input (dtype undefined for absent ones) with the layout each currently has.
// Rejections are appended to `rejected`.
Result<OpChoice> select_op(const ir::Node& node, const std::vector<SlotInfo>& inputs, int64_t opset,
                           const SelectOptions& options, std::vector<std::string>* rejected);

// A layout conversion of one activation tensor (between any two layouts; kNchw8c only for blockable shapes).
Result<std::unique_ptr<RuntimeOp>> make_reorder(const SlotInfo& src, Layout dst_layout);

}  // namespace hqp::runtime
