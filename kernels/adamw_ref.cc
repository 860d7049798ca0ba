// AdamW update and the squared gradient norm used for clipping.

#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"

namespace moesweep::kernels::ref {

template <typename Float>
void adamw_update(const Context&, Float* params, const Float* grads, Float* m,
                  Float* v, size_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, float grad_scale, int step) {
  Float correction1 = 1 - std::pow(Float(beta1), Float(step));
  Float correction2 = 1 - std::pow(Float(beta2), Float(step));
  for (size_t i = 0; i < n; ++i) {
    Float g = grads[i] * grad_scale;
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    Float m_hat = m[i] / correction1;
    Float v_hat = v[i] / correction2;
    params[i] -=
        lr * (m_hat / (std::sqrt(v_hat) + eps) + weight_decay * params[i]);
  }
}

template <typename Float>
double grad_norm_squared(const Context&, const Float* grads, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += double(grads[i]) * double(grads[i]);
  return sum;
}

MOESWEEP_REF_INSTANTIATE(adamw_update);
MOESWEEP_REF_INSTANTIATE(grad_norm_squared);

}  // namespace moesweep::kernels::ref
