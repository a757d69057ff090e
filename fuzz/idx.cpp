// Fuzz target: IDX files (MNIST / Fashion-MNIST, plain or gzip). The input is split in two files,
// images and labels, at an offset taken from its first two bytes; both are read as IDX rank 3 /
// rank 1, then as a dataset whose samples are all decoded. Properties: a dataset or a clean error;
// every sample of an accepted dataset decodes with a label in range.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "data/idx.h"
#include "fuzz/dataset_check.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqp;
  if (size < 2) return 0;
  const size_t split = std::min<size_t>(size - 2, (size_t{data[0]} << 8) | data[1]);
  const uint8_t* images = data + 2;
  const uint8_t* labels = images + split;
  fuzz::MemFile image_file(images, split);
  fuzz::MemFile label_file(labels, size - 2 - split);

  Result<data::IdxArray> rank3 = data::read_idx_file(image_file.path(), 3);
  if (!rank3.ok()) fuzz::check_clean_error(rank3.status());
  Result<data::IdxArray> rank1 = data::read_idx_file(label_file.path(), 1);
  if (!rank1.ok()) fuzz::check_clean_error(rank1.status());

  Result<std::shared_ptr<data::U8Dataset>> ds =
      data::load_idx_dataset("fuzz", image_file.path(), label_file.path(), /*num_classes=*/0);
  fuzz::tally(ds.ok());
  if (!ds.ok()) {
    fuzz::check_clean_error(ds.status());
    return 0;
  }
  fuzz::check_samples(**ds, 64);
  return 0;
}
