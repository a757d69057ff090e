// ValSplit: which training images form the val split -- a seeded random subset, the last N in file
// order, or a separate dataset folder -- and its text form ("random:N[:SEED]", "random:auto",
// "tail:N", or a folder) used by every command's --val-split flag and stored in models as
// hqp.val_split. Parsing and naming only; open_dataset.h applies it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hqp::data {

// ValSplit::size meaning "min(kMaxAutoValSize, training set size / 10)" (random splits only).
inline constexpr int64_t kAutoValSize = -1;
inline constexpr int64_t kMaxAutoValSize = 5000;

enum class ValSplitKind : uint8_t {
  kRandom,  // val = the first `size` entries of a permutation of [0, n) seeded by `seed`; train = the rest
  kTail,    // val = the last `size` training samples in file order; train = the first n - size (no shuffling)
  kFolder,  // val = every sample of the training files of dataset `folder`; train = all training samples
};

struct ValSplit {
  ValSplitKind kind = ValSplitKind::kRandom;
  int64_t size = kAutoValSize;  // kRandom: kAutoValSize or 0 <= size < n; kTail: 0 <= size < n
  uint64_t seed = 0;            // kRandom
  std::string folder;           // kFolder: a dataset source in --data form (a folder, "idx:DIR", ...)

  static ValSplit random(int64_t size, uint64_t seed = 0) { return {ValSplitKind::kRandom, size, seed, {}}; }
  static ValSplit tail(int64_t size) { return {ValSplitKind::kTail, size, 0, {}}; }
  static ValSplit from_folder(std::string folder) { return {ValSplitKind::kFolder, 0, 0, std::move(folder)}; }
  bool operator==(const ValSplit&) const = default;
};

// "random:N", "random:N:SEED", "random:auto[:SEED]", "tail:N" (N >= 0 decimal, SEED unsigned); any
// other non-empty text is a dataset folder (opened like --data when the split is used). Errors
// follow "cannot parse val split '<text>': <problem> (<param>=<value>, expected ...)".
Result<ValSplit> parse_val_split(std::string_view text);

// The text form parse_val_split reads back: "random:N" (":SEED" when seed != 0), "random:auto",
// "tail:N", or the folder.
std::string val_split_to_string(const ValSplit& split);

// The val size that kAutoValSize resolves to for a training set of n samples.
int64_t auto_val_size(int64_t n);

}  // namespace hqp::data
