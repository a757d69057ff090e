// CIFAR-10 / CIFAR-100 binary-format reader (the "binary version" archives, not the Python pickles).
// Record layout: CIFAR-10 <1 label byte><3072 pixel bytes>; CIFAR-100 <coarse><fine><3072 pixels>;
// pixels are R plane, G plane, B plane of 32x32, i.e. already [3, 32, 32].
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace hqp::data {

inline constexpr int64_t kCifarSide = 32;
inline constexpr int64_t kCifarPixelBytes = 3 * kCifarSide * kCifarSide;
inline constexpr int64_t kCifar10Classes = 10;
inline constexpr int64_t kCifar100FineClasses = 100;
inline constexpr int64_t kCifar100CoarseClasses = 20;

enum class CifarKind { kCifar10, kCifar100Fine, kCifar100Coarse };

// Reads and concatenates `files` (in order) into one dataset of [3, 32, 32] samples. Fails on a
// missing file, a size that is not a whole number of records, or a label out of range.
// class_names may be empty (numbered).
Result<std::shared_ptr<U8Dataset>> load_cifar_dataset(const std::string& name, const std::vector<std::string>& files,
                                                      CifarKind kind, std::vector<std::string> class_names = {});

// One record's bytes, for tests and tools: labels (1 for CIFAR-10, coarse+fine for CIFAR-100) then pixels.
std::vector<uint8_t> cifar_record(const std::vector<uint8_t>& labels, const std::vector<uint8_t>& pixels_chw);

}  // namespace hqp::data
