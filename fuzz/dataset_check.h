// The property the dataset fuzz targets (idx, cifar) share: every sample of an accepted dataset
// (the first `limit`) decodes, with a label in range and, when given, the promised shape.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "data/dataset.h"
#include "fuzz/fuzz_util.h"

namespace hqp::fuzz {

inline void check_samples(const data::Dataset& ds, int64_t limit, const std::optional<Shape>& shape = std::nullopt) {
  for (int64_t i = 0; i < std::min(ds.size(), limit); ++i) {
    Result<data::Sample> s = ds.get(i);
    if (!s.ok()) violated("a sample of an accepted dataset does not decode: " + s.status().message());
    if (s->label < 0 || s->label >= ds.num_classes()) violated("label out of range");
    if (shape && s->image.shape() != *shape) violated("sample shape");
  }
}

}  // namespace hqp::fuzz
