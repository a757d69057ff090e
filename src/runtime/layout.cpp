// Activation layouts of the fast runtime.
#include "runtime/layout.h"

namespace hqp::runtime {

std::string_view layout_name(Layout layout) {
  switch (layout) {
    case Layout::kNchw: return "nchw";
    case Layout::kNhwc: return "nhwc";
    case Layout::kNchw8c: return "nchw8c";
  }
  return "?";
}

bool blockable(const Shape& shape) { return shape.size() >= 3 && shape.size() <= 5 && shape[1] % 8 == 0; }

bool layout_agnostic(const Shape& shape) {
  if (shape.size() < 3) return true;
  for (size_t i = 2; i < shape.size(); ++i) {
    if (shape[i] != 1) return false;
  }
  return true;
}

}  // namespace hqp::runtime
