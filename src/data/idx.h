// IDX reader (MNIST, Fashion-MNIST): u8 arrays, plain or gzip-compressed (detected from the bytes,
// not the name). Not a writer of IDX files beyond the small helper the tests use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace hqp::data {

// IDX magic: 0x00 0x00 <type> <rank>; hqp reads type 0x08 (unsigned byte) only.
inline constexpr uint8_t kIdxTypeU8 = 0x08;
inline constexpr uint32_t kIdxMagicLabels = 0x00000801;  // rank 1: [N]
inline constexpr uint32_t kIdxMagicImages = 0x00000803;  // rank 3: [N, H, W]

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. [N, H, W]
  std::vector<uint8_t> data;  // row-major, prod(dims) bytes
};

// Reads an IDX file of unsigned bytes whose rank is `expected_rank` (1 or 3). Fails on a missing
// file, a wrong magic, a truncated body or trailing bytes; allocates only as the data arrives.
Result<IdxArray> read_idx_file(const std::string& path, int expected_rank);

// Serializes an array as IDX bytes (big-endian dims); for tests and tools.
std::vector<uint8_t> idx_bytes(const IdxArray& array);
// Writes idx_bytes(array) to `path`, gzip-compressed when `gzip`; for tests and tools.
Status write_idx_file(const std::string& path, const IdxArray& array, bool gzip);

// Images [N, H, W] and labels [N] as a dataset of samples [1, H, W]. num_classes <= 0 takes
// max(label) + 1; class_names may be empty (numbered).
Result<std::shared_ptr<U8Dataset>> load_idx_dataset(const std::string& name, const std::string& images_path,
                                                    const std::string& labels_path, int64_t num_classes,
                                                    std::vector<std::string> class_names = {});

}  // namespace hqp::data
