// The fuzzers' one helper: readers that take a path (law files, CSV tables,
// token shards) read the input from an in-memory file, so no run touches disk.

#ifndef MOESWEEP_FUZZ_MEM_FILE_H_
#define MOESWEEP_FUZZ_MEM_FILE_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace moesweep::fuzz {

// Replaces the contents of one memfd, created on first use and kept for the
// life of the process, with `data`; returns a path that opens it from the
// start. Aborts if the memfd cannot be made or written: a broken harness, not
// a finding.
inline std::string MemFile(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("moesweep-fuzz", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, off_t(done));
    if (n <= 0) std::abort();
    done += size_t(n);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace moesweep::fuzz

#endif  // MOESWEEP_FUZZ_MEM_FILE_H_
