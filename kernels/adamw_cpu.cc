// Fast AdamW and gradient norm. The norm sums each chunk in double and adds
// the chunks in order: the same sum every run.

#include <array>
#include <cmath>

#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "kernels/simd.h"

namespace moesweep::kernels::cpu {

namespace {

MOESWEEP_SIMD_CLONES
void AdamwRange(float* params, const float* grads, float* m, float* v,
                size_t begin, size_t end, float lr, float beta1, float beta2,
                float eps, float weight_decay, float grad_scale,
                float correction1, float correction2) {
  for (size_t i = begin; i < end; ++i) {
    float g = grads[i] * grad_scale;
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    float m_hat = m[i] / correction1;
    float v_hat = v[i] / correction2;
    params[i] -=
        lr * (m_hat / (std::sqrt(v_hat) + eps) + weight_decay * params[i]);
  }
}

}  // namespace

void adamw_update(const Context& ctx, float* params, const float* grads,
                  float* m, float* v, size_t n, const AdamwStep* s,
                  bool decay) {
  const float weight_decay = decay ? s->weight_decay : 0.0f;
  const float grad_scale = AdamwClipScale(*s);
  float correction1 = 1.0f - std::pow(s->beta1, float(s->step));
  float correction2 = 1.0f - std::pow(s->beta2, float(s->step));
  ParallelFor(ctx, n, [&](size_t begin, size_t end) {
    AdamwRange(params, grads, m, v, begin, end, s->lr, s->beta1, s->beta2,
               s->eps, weight_decay, grad_scale, correction1, correction2);
  });
}

void grad_norm_squared(const Context& ctx, double* norm_squared,
                       const float* grads, size_t n) {
  int parts = Parts(ctx, n);
  std::array<double, kMaxParts> partial;
  ParallelTasks(ctx, parts, [&](int part) {
    size_t begin, end;
    Chunk(n, part, parts, &begin, &end);
    double sum = 0;
    for (size_t i = begin; i < end; ++i) sum += double(grads[i]) * grads[i];
    partial[part] = sum;
  });
  double total = 0;
  for (int part = 0; part < parts; ++part) total += partial[part];
  *norm_squared = total;
}

}  // namespace moesweep::kernels::cpu
