// Work splitting for the fast ops: chunks fixed by the sizes alone (never by
// timing), so results repeat bit for bit; more chunks than threads, so the
// pool can balance them when a core is busy with something else. Internal to
// kernels/.

#ifndef MOESWEEP_KERNELS_PARALLEL_H_
#define MOESWEEP_KERNELS_PARALLEL_H_

#include <algorithm>
#include <cstddef>
#include <vector>

#include "kernels/kernels.h"

namespace moesweep::kernels {

inline int Threads(const Context& ctx) {
  return ctx.pool == nullptr ? 1 : ctx.pool->threads();
}

// Chunks per thread for row-parallel work, and a bound on the chunks of any
// op, so per-chunk partial sums fit in a fixed array.
constexpr int kChunksPerThread = 4;
constexpr int kMaxParts = 256;

// How many chunks to cut `n` items into: in [1, kMaxParts].
inline int Parts(const Context& ctx, size_t n) {
  int threads = Threads(ctx);
  if (threads == 1) return 1;
  size_t parts =
      std::min<size_t>(size_t(threads) * kChunksPerThread, kMaxParts);
  return int(parts < n ? parts : (n == 0 ? 1 : n));
}

// `floats` floats of scratch: the pool's (see ThreadPool::Scratch) or,
// without a pool, `fallback`'s.
inline float* Scratch(const Context& ctx, size_t floats,
                      std::vector<float>* fallback) {
  if (ctx.pool != nullptr) return ctx.pool->Scratch(floats);
  fallback->resize(floats);
  return fallback->data();
}

// Chunk `part` of `parts` of [0, n): [*begin, *end).
inline void Chunk(size_t n, int part, int parts, size_t* begin, size_t* end) {
  *begin = n * part / parts;
  *end = n * (part + 1) / parts;
}

// Calls f(part, begin, end) on each chunk of [0, n), across the pool; part
// in [0, Parts(ctx, n)) names the chunk, so it can own a slice of scratch.
template <typename F>
void ParallelChunks(const Context& ctx, size_t n, F&& f) {
  int parts = Parts(ctx, n);
  if (parts == 1) {
    f(0, size_t(0), n);
    return;
  }
  ctx.pool->Run(parts, [&](int part) {
    size_t begin, end;
    Chunk(n, part, parts, &begin, &end);
    if (begin < end) f(part, begin, end);
  });
}

// Calls f(begin, end) on each chunk of [0, n), across the pool.
template <typename F>
void ParallelFor(const Context& ctx, size_t n, F&& f) {
  ParallelChunks(ctx, n, [&](int, size_t begin, size_t end) { f(begin, end); });
}

// Calls f(task) for task in [0, n) across the pool.
template <typename F>
void ParallelTasks(const Context& ctx, int n, F&& f) {
  if (Threads(ctx) == 1) {
    for (int i = 0; i < n; ++i) f(i);
    return;
  }
  ctx.pool->Run(n, f);
}

}  // namespace moesweep::kernels

#endif  // MOESWEEP_KERNELS_PARALLEL_H_
