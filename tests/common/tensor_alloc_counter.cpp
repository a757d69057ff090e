// Replacement of the aligned array operator new/delete (what hqp::Tensor allocates with) that
// counts bytes; see tensor_alloc_counter.h. Every other allocation is untouched.
#include "common/tensor_alloc_counter.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace hqp::test {
namespace {

TensorAllocStats g_stats;

// The requested size is stored in a header of `align` bytes in front of the returned pointer.
size_t header_size(std::align_val_t al) {
  return std::max(static_cast<size_t>(al), alignof(std::max_align_t));
}

void* counted_alloc(size_t size, std::align_val_t al) {
  const size_t header = header_size(al);
  const size_t total = (size + header + header - 1) / header * header;
  void* base = std::aligned_alloc(header, total);
  if (base == nullptr) return nullptr;
  *static_cast<size_t*>(base) = size;
  g_stats.live_bytes += static_cast<int64_t>(size);
  g_stats.peak_live_bytes = std::max(g_stats.peak_live_bytes, g_stats.live_bytes);
  g_stats.total_bytes += static_cast<int64_t>(size);
  ++g_stats.allocations;
  return static_cast<std::byte*>(base) + header;
}

void counted_free(void* p, std::align_val_t al) {
  if (p == nullptr) return;
  std::byte* base = static_cast<std::byte*>(p) - header_size(al);
  g_stats.live_bytes -= static_cast<int64_t>(*reinterpret_cast<size_t*>(base));
  std::free(base);
}

}  // namespace

TensorAllocStats tensor_alloc_stats() { return g_stats; }

void reset_tensor_alloc_stats() {
  g_stats.peak_live_bytes = g_stats.live_bytes;
  g_stats.total_bytes = 0;
  g_stats.allocations = 0;
}

}  // namespace hqp::test

void* operator new[](std::size_t size, std::align_val_t al) {
  void* p = hqp::test::counted_alloc(size, al);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return hqp::test::counted_alloc(size, al);
}
void operator delete[](void* p, std::align_val_t al) noexcept { hqp::test::counted_free(p, al); }
void operator delete[](void* p, std::size_t, std::align_val_t al) noexcept { hqp::test::counted_free(p, al); }
void operator delete[](void* p, std::align_val_t al, const std::nothrow_t&) noexcept {
  hqp::test::counted_free(p, al);
}
