// AdamW update and the squared gradient norm used for clipping.

#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"

namespace moesweep::kernels::ref {

template <typename Float>
void adamw_update(const Context&, Float* params, const Float* grads, Float* m,
                  Float* v, size_t n, const AdamwStep* s, bool decay) {
  const Float beta1 = s->beta1, beta2 = s->beta2, lr = s->lr;
  const Float weight_decay = decay ? s->weight_decay : 0.0f;
  const Float grad_scale = AdamwClipScale(*s);
  Float correction1 = 1 - std::pow(beta1, Float(s->step));
  Float correction2 = 1 - std::pow(beta2, Float(s->step));
  for (size_t i = 0; i < n; ++i) {
    Float g = grads[i] * grad_scale;
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    Float m_hat = m[i] / correction1;
    Float v_hat = v[i] / correction2;
    params[i] -= lr * (m_hat / (std::sqrt(v_hat) + Float(s->eps)) +
                       weight_decay * params[i]);
  }
}

template <typename Float>
void grad_norm_squared(const Context&, double* norm_squared, const Float* grads,
                       size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += double(grads[i]) * double(grads[i]);
  *norm_squared = sum;
}

MOESWEEP_REF_INSTANTIATE(adamw_update);
MOESWEEP_REF_INSTANTIATE(grad_norm_squared);

}  // namespace moesweep::kernels::ref
