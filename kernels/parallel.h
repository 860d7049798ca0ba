// Work splitting for the fast ops: chunks fixed by the sizes alone (never by
// timing), so results repeat bit for bit; more chunks than threads, so the
// pool can balance them when a core is busy with something else. Internal to
// kernels/.

#ifndef MOESWEEP_KERNELS_PARALLEL_H_
#define MOESWEEP_KERNELS_PARALLEL_H_

#include <cstddef>

#include "kernels/kernels.h"

namespace moesweep::kernels {

inline int Threads(const Context& ctx) {
  return ctx.pool == nullptr ? 1 : ctx.pool->threads();
}

// Chunks per thread for row-parallel work.
constexpr int kChunksPerThread = 4;

// How many chunks to cut `n` items into.
inline int Parts(const Context& ctx, size_t n) {
  int threads = Threads(ctx);
  if (threads == 1) return 1;
  size_t parts = size_t(threads) * kChunksPerThread;
  return int(parts < n ? parts : (n == 0 ? 1 : n));
}

// Chunk `part` of `parts` of [0, n): [*begin, *end).
inline void Chunk(size_t n, int part, int parts, size_t* begin, size_t* end) {
  *begin = n * part / parts;
  *end = n * (part + 1) / parts;
}

// Calls f(begin, end) on each chunk of [0, n), across the pool.
template <typename F>
void ParallelFor(const Context& ctx, size_t n, F&& f) {
  int parts = Parts(ctx, n);
  if (parts == 1) {
    f(size_t(0), n);
    return;
  }
  ctx.pool->Run(parts, [&](int part) {
    size_t begin, end;
    Chunk(n, part, parts, &begin, &end);
    if (begin < end) f(begin, end);
  });
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
