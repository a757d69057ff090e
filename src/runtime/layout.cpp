// Activation layouts of the fast runtime.
#include "runtime/layout.h"

namespace hqp::runtime {

std::string_view layout_name(Layout layout) { return layout == Layout::kNhwc ? "nhwc" : "nchw"; }

bool layout_agnostic(const Shape& shape) {
  if (shape.size() < 3) return true;
  for (size_t i = 2; i < shape.size(); ++i) {
    if (shape[i] != 1) return false;
  }
  return true;
}

}  // namespace hqp::runtime
