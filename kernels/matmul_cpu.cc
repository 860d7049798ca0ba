// Fast dense and grouped matmuls: row blocks of each GEMM go to the pool's
// threads, each running a single-threaded Sgemm.

#include <cassert>
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace moesweep::kernels::cpu {

void matmul_forward(const Context& ctx, float* out, const float* inp,
                    const float* weight, int N, int I, int O) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    Sgemm(false, true, int(end - begin), O, I, 1.0f, inp + begin * I, I, weight,
          I, 0.0f, out + begin * O, O);
  });
}

void matmul_backward(const Context& ctx, float* dinp, float* dweight,
                     const float* dout, const float* inp, const float* weight,
                     int N, int I, int O) {
  // Tasks [0, parts) take rows of dinp, [parts, 2 parts) rows of dweight.
  int parts = 2 * Threads(ctx);
  ParallelTasks(ctx, 2 * parts, [&](int task) {
    size_t begin, end;
    if (task < parts) {
      Chunk(N, task, parts, &begin, &end);
      Sgemm(false, false, int(end - begin), I, O, 1.0f, dout + begin * O, O,
            weight, I, 1.0f, dinp + begin * I, I);
    } else {
      Chunk(O, task - parts, parts, &begin, &end);
      Sgemm(true, false, int(end - begin), I, N, 1.0f, dout + begin, O, inp, I,
            1.0f, dweight + begin * I, I);
    }
  });
}

void expert_matmul_forward(const Context& ctx, float* out, const float* inp,
                           const float* weight, const int32_t* offsets,
                           [[maybe_unused]] int M, int E, int I, int O) {
  assert(offsets[E] == M);
  // Every thread takes its share of every expert's rows, so the load is even
  // however unevenly the router spreads tokens.
  int parts = Threads(ctx);
  ParallelTasks(ctx, E * parts, [&](int task) {
    int e = task / parts;
    size_t begin, end;
    Chunk(offsets[e + 1] - offsets[e], task % parts, parts, &begin, &end);
    begin += offsets[e];
    end += offsets[e];
    Sgemm(false, true, int(end - begin), O, I, 1.0f, inp + begin * I, I,
          weight + size_t(e) * O * I, I, 0.0f, out + begin * O, O);
  });
}

void expert_matmul_backward(const Context& ctx, float* dinp, float* dweight,
                            const float* dout, const float* inp,
                            const float* weight, const int32_t* offsets,
                            [[maybe_unused]] int M, int E, int I, int O) {
  assert(offsets[E] == M);
  int parts = Threads(ctx);
  ParallelTasks(ctx, 2 * E * parts, [&](int task) {
    bool weight_task = task >= E * parts;
    int t = weight_task ? task - E * parts : task;
    int e = t / parts;
    size_t row0 = offsets[e], rows = offsets[e + 1] - offsets[e];
    const float* w = weight + size_t(e) * O * I;
    size_t begin, end;
    if (!weight_task) {
      Chunk(rows, t % parts, parts, &begin, &end);
      Sgemm(false, false, int(end - begin), I, O, 1.0f,
            dout + (row0 + begin) * O, O, w, I, 0.0f, dinp + (row0 + begin) * I,
            I);
    } else {
      Chunk(O, t % parts, parts, &begin, &end);
      Sgemm(true, false, int(end - begin), I, int(rows), 1.0f,
            dout + row0 * O + begin, O, inp + row0 * I, I, 1.0f,
            dweight + size_t(e) * O * I + begin * I, I);
    }
  });
}

}  // namespace moesweep::kernels::cpu
