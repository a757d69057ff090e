// Fuzz target: CIFAR-10 / CIFAR-100 binary batches (the kind chosen by the first byte). Properties:
// a dataset or a clean error; every sample of an accepted dataset decodes with a label in range.
#include <cstddef>
#include <cstdint>

#include "data/cifar.h"
#include "fuzz/dataset_check.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqp;
  if (size < 1) return 0;
  const data::CifarKind kinds[] = {data::CifarKind::kCifar10, data::CifarKind::kCifar100Fine,
                                   data::CifarKind::kCifar100Coarse};
  const data::CifarKind kind = kinds[data[0] % 3];
  fuzz::MemFile file(data + 1, size - 1);
  Result<std::shared_ptr<data::U8Dataset>> ds = data::load_cifar_dataset("fuzz", {file.path()}, kind);
  fuzz::tally(ds.ok());
  if (!ds.ok()) {
    fuzz::check_clean_error(ds.status());
    return 0;
  }
  fuzz::check_samples(**ds, 16, Shape{3, data::kCifarSide, data::kCifarSide});
  return 0;
}
