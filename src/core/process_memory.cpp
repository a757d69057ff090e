// Resident memory from /proc/self/statm; free memory handed back with glibc's malloc_trim.
#include "core/process_memory.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

namespace hqp {

int64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long long size_pages = 0, resident_pages = 0;
  const int n = std::fscanf(f, "%lld %lld", &size_pages, &resident_pages);
  std::fclose(f);
  if (n != 2) return -1;
  return static_cast<int64_t>(resident_pages) * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

void release_free_memory() { ::malloc_trim(0); }

}  // namespace hqp
