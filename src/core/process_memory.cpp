// Resident memory from /proc/self/status; free memory handed back with glibc's malloc_trim.
#include "core/process_memory.h"

#include <malloc.h>

#include <cstdio>
#include <cstring>

namespace hqp {

ResidentMemory resident_memory() {
  ResidentMemory m;
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return m;
  char line[256];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    long long kib = 0;
    if (std::sscanf(line, "RssAnon: %lld kB", &kib) == 1) m.anonymous = kib * 1024;
    if (std::sscanf(line, "RssFile: %lld kB", &kib) == 1) m.file = kib * 1024;
  }
  std::fclose(f);
  return m;
}

void release_free_memory() { ::malloc_trim(0); }

}  // namespace hqp
