// Model: parameter layout, init, the arena, and the layer-by-layer forward
// and backward passes (the MoE FFN is in moe_ffn.cc).

#include "worker/trainer/model.h"

#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "worker/trainer/activations.h"

namespace moesweep::worker {

namespace {

// Standard normal draws by Box-Muller on raw 64-bit draws: the same numbers
// on every platform, unlike std::normal_distribution.
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  float Next() {
    double u1 = (double(rng_() >> 11) + 0.5) * 0x1.0p-53;
    double u2 = double(rng_() >> 11) * 0x1.0p-53;
    return float(std::sqrt(-2 * std::log(u1)) *
                 std::cos(2 * 3.14159265358979323846 * u2));
  }

 private:
  std::mt19937_64 rng_;
};

// Hands out consecutive slices of an arena being sized (base == null) or
// filled, each at a multiple of 256 bytes from the arena's start (cudaMalloc's
// are 256-byte aligned): cuBLASLt's fast kernels need operands that aligned,
// and a slice of odd length (a [2L] scalars array, N rstd values) would
// otherwise shift every tensor after it. Sizing saturates at SIZE_MAX instead
// of wrapping, so an absurd config measures as too big (ModelConfig::Validate
// bounds each slice).
template <typename T>
struct Bump {
  static constexpr size_t kAlign = 256 / sizeof(T);
  T* base = nullptr;
  size_t used = 0;
  T* Take(size_t n) {
    const size_t skip = (kAlign - used % kAlign) % kAlign;
    const size_t start = skip > SIZE_MAX - used ? SIZE_MAX : used + skip;
    T* p = base == nullptr ? nullptr : base + start;
    used = n > SIZE_MAX - start ? SIZE_MAX : start + n;
    return p;
  }
};

void LayoutActivations(const ModelConfig& c, int B, Bump<float>* f,
                       Bump<int32_t>* i, Model::Activations* a);

}  // namespace

size_t Model::MemoryBytes(const ModelConfig& config, int max_batch) {
  Activations sizing;
  Bump<float> f;
  Bump<int32_t> i;
  LayoutActivations(config, max_batch, &f, &i, &sizing);
  // In double: the largest valid configs exceed SIZE_MAX bytes.
  const double bytes =
      double(sizeof(float)) *
          (4.0 * double(config.TotalParameters()) + double(f.used)) +
      double(sizeof(int32_t)) * double(i.used) + sizeof(kernels::AdamwStep);
  return bytes >= 0x1p63 ? SIZE_MAX : size_t(bytes);
}

Model::Model(const ModelConfig& config, int max_batch, int threads)
    : Model(config, max_batch, Backend::Cpu(threads)) {}

Model::Model(const ModelConfig& config, int max_batch,
             std::unique_ptr<Backend> backend)
    : config_(config),
      max_batch_(max_batch),
      backend_(std::move(backend)),
      k_(backend_->ops()),
      ctx_(backend_->ctx()) {
  const size_t C = config.d_model, V = config.vocab_size, E = config.n_experts;
  const size_t H = config.expert_hidden();
  const size_t Hs = size_t(config.n_shared_experts) * H;
  size_t offset = 0;
  auto add = [&](const std::string& name, size_t size) {
    if (size > 0) tensors_.push_back({name, offset, size});
    offset += size;
  };
  // Matrices first (weight decay applies to them), then the norm weights.
  add("wte", V * C);
  if (!config.tied_embeddings) add("lm_head", V * C);
  for (int l = 0; l < config.n_layers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    add(p + "wqkv", 3 * C * C);
    add(p + "wo", C * C);
    if (E > 1) add(p + "wrouter", E * C);
    add(p + "w13", E * 2 * H * C);
    add(p + "w2", E * C * H);
    add(p + "shared_w13", 2 * Hs * C);
    add(p + "shared_w2", C * Hs);
  }
  num_decayed_ = offset;
  for (int l = 0; l < config.n_layers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    add(p + "ln1", C);
    add(p + "ln2", C);
  }
  add("lnf", C);
  num_params_ = offset;
  auto floats = [&](size_t n) {
    return static_cast<float*>(backend_->Alloc(sizeof(float) * n));
  };
  params_ = floats(offset);
  grads_ = floats(offset);
  adam_m_ = floats(offset);
  adam_v_ = floats(offset);
  auto views = [&](float* base) {
    ModelViews v;
    size_t at = 0;
    auto take = [&](size_t n) {
      float* ptr = n == 0 ? nullptr : base + at;
      at += n;
      return ptr;
    };
    v.wte = take(V * C);
    v.lm_head = config.tied_embeddings ? v.wte : take(V * C);
    v.layers.resize(config.n_layers);
    for (LayerViews& lv : v.layers) {
      lv.wqkv = take(3 * C * C);
      lv.wo = take(C * C);
      lv.wrouter = E > 1 ? take(E * C) : nullptr;
      lv.w13 = take(E * 2 * H * C);
      lv.w2 = take(E * C * H);
      lv.shared_w13 = take(2 * Hs * C);
      lv.shared_w2 = take(C * Hs);
    }
    for (LayerViews& lv : v.layers) {
      lv.ln1 = take(C);
      lv.ln2 = take(C);
    }
    v.lnf = take(C);
    return v;
  };
  p_ = views(params_);
  g_ = views(grads_);

  a_ = std::make_unique<Activations>();
  Bump<float> f;
  Bump<int32_t> i;
  LayoutActivations(config, max_batch, &f, &i, a_.get());  // sizes only
  a_->floats = floats(f.used);
  a_->ints = static_cast<int32_t*>(backend_->Alloc(sizeof(int32_t) * i.used));
  f = {a_->floats, 0};
  i = {a_->ints, 0};
  LayoutActivations(config, max_batch, &f, &i, a_.get());
  const size_t max_tokens = size_t(max_batch) * config.seq_len;
  host_losses_.resize(max_tokens);
  host_scalars_.resize(2 * size_t(config.n_layers));
  adamw_ = static_cast<kernels::AdamwStep*>(
      backend_->Alloc(sizeof(kernels::AdamwStep)));
  if (E == 1) {
    // The router's fixed choice, the same for every batch: expert 0, gate 1.
    std::vector<int32_t> expert(max_tokens, 0);
    std::vector<float> gate(max_tokens, 1.0f);
    for (LayerActivations& x : a_->layers) {
      backend_->Upload(x.expert, expert.data(), sizeof(int32_t) * max_tokens);
      backend_->Upload(x.gate, gate.data(), sizeof(float) * max_tokens);
    }
  }
}

Model::~Model() {
  for (void* buffer :
       {static_cast<void*>(params_), static_cast<void*>(grads_),
        static_cast<void*>(adam_m_), static_cast<void*>(adam_v_),
        static_cast<void*>(adamw_), static_cast<void*>(a_->floats),
        static_cast<void*>(a_->ints)}) {
    backend_->Free(buffer);
  }
}

float* Model::HostOnly(float* buffer) const {
  assert(backend_->host_memory());
  return buffer;
}

std::vector<float> Model::SaveState() const {
  std::vector<float> state(3 * num_params_);
  const size_t bytes = sizeof(float) * num_params_;
  backend_->Download(state.data(), params_, bytes);
  backend_->Download(state.data() + num_params_, adam_m_, bytes);
  backend_->Download(state.data() + 2 * num_params_, adam_v_, bytes);
  return state;
}

std::vector<float> Model::Gradients() const {
  std::vector<float> grads(num_params_);
  backend_->Download(grads.data(), grads_, sizeof(float) * num_params_);
  return grads;
}

void Model::LoadState(const void* state) {
  const size_t bytes = sizeof(float) * num_params_;
  const char* at = static_cast<const char*>(state);
  backend_->Upload(params_, at, bytes);
  backend_->Upload(adam_m_, at + bytes, bytes);
  backend_->Upload(adam_v_, at + 2 * bytes, bytes);
}

void Model::Init(uint64_t seed) {
  Normal normal(seed);
  float out_std = config_.init_std / std::sqrt(2.0f * config_.n_layers);
  // Drawn on the host in one fixed order, whatever the backend.
  std::vector<float> params(num_params_);
  for (const ParamTensor& t : tensors_) {
    float* p = params.data() + t.offset;
    bool norm = t.offset >= num_decayed_;
    bool output = t.name.ends_with(".wo") || t.name.ends_with("w2");
    for (size_t j = 0; j < t.size; ++j) {
      p[j] =
          norm ? 1.0f : (output ? out_std : config_.init_std) * normal.Next();
    }
  }
  backend_->Upload(params_, params.data(), sizeof(float) * num_params_);
  ZeroFloats(adam_m_, num_params_);
  ZeroFloats(adam_v_, num_params_);
}

// Replay keys: one graph per batch size and kind of body.
namespace {
enum ReplayKind { kWholeStep, kGradients, kUpdate, kForward, kReplayKinds };
int ReplayKey(int B, ReplayKind kind) { return B * kReplayKinds + kind; }
}  // namespace

Losses Model::Forward(const int32_t* tokens, const int32_t* targets, int B) {
  Stage(tokens, targets, B);
  backend_->Replay(ReplayKey(B, kForward), [&] { ForwardOps(B); });
  return CollectLosses(B);
}

StepResult Model::TrainStep(const int32_t* tokens, const int32_t* targets,
                            int B, const OptimizerConfig& opt, float lr,
                            int step) {
  Stage(tokens, targets, B);
  StageUpdate(opt, lr, step);
  backend_->Replay(ReplayKey(B, kWholeStep), [&] {
    ForwardOps(B);
    ZeroGrad();
    Backward();
    UpdateOps();
  });
  StepResult r;
  r.losses = CollectLosses(B);
  r.grad_norm = CollectNorm();
  return r;
}

void Model::StepGradients(const int32_t* tokens, const int32_t* targets, int B,
                          const OptimizerConfig& opt, float lr, int step) {
  Stage(tokens, targets, B);
  StageUpdate(opt, lr, step);
  backend_->Replay(ReplayKey(B, kGradients), [&] {
    ForwardOps(B);
    ZeroGrad();
    Backward();
  });
  staged_batch_ = B;
}

StepResult Model::StepUpdate() {
  const int B = staged_batch_;
  assert(B > 0);
  backend_->Replay(ReplayKey(B, kUpdate), [&] { UpdateOps(); });
  staged_batch_ = 0;
  StepResult r;
  r.losses = CollectLosses(B);
  r.grad_norm = CollectNorm();
  return r;
}

void Model::Stage(const int32_t* tokens, const int32_t* targets, int B) {
  const int N = B * config_.seq_len;
  Activations& a = *a_;
  a.B = B;
  backend_->Upload(a.tokens, tokens, sizeof(int32_t) * N);
  backend_->Upload(a.targets, targets, sizeof(int32_t) * N);
  if (config_.n_experts == 1) {
    for (LayerActivations& x : a.layers) {
      backend_->Upload(x.counts, &N, sizeof(int32_t));
    }
  }
}

void Model::ForwardOps(int B) {
  const ModelConfig& c = config_;
  const int N = B * c.seq_len, C = c.d_model, V = c.vocab_size;
  Activations& a = *a_;
  k_.embedding_forward(ctx_, a.resid[0], a.tokens, p_.wte, N, C);
  for (int l = 0; l < c.n_layers; ++l) LayerForward(l, B);
  k_.rmsnorm_forward(ctx_, a.lnf, a.rstdf, a.resid[c.n_layers], p_.lnf, N, C);
  k_.matmul_forward(ctx_, a.logits, a.lnf, p_.lm_head, N, C, V);
  k_.crossentropy_forward(ctx_, a.losses, a.probs, a.logits, a.targets, N, V);
}

Losses Model::CollectLosses(int B) {
  const ModelConfig& c = config_;
  const int N = B * c.seq_len;
  backend_->Download(host_losses_.data(), a_->losses, sizeof(float) * N);
  Losses r;
  if (c.n_experts > 1) {
    backend_->Download(host_scalars_.data(), a_->scalars,
                       sizeof(float) * host_scalars_.size());
    for (int l = 0; l < c.n_layers; ++l) {  // in layer order, in float
      r.aux += host_scalars_[2 * l];
      r.z += host_scalars_[2 * l + 1];
    }
  }
  double sum = 0;
  for (int n = 0; n < N; ++n) sum += host_losses_[n];
  r.ce = float(sum / N);
  r.total =
      sum / N + double(c.aux_loss_coef) * r.aux + double(c.z_loss_coef) * r.z;
  return r;
}

void Model::LayerForward(int l, int B) {
  const ModelConfig& c = config_;
  const int T = c.seq_len, N = B * T, C = c.d_model;
  const LayerViews& w = p_.layers[l];
  LayerActivations& x = a_->layers[l];
  const float* in = a_->resid[l];
  k_.rmsnorm_forward(ctx_, x.ln1, x.rstd1, in, w.ln1, N, C);
  k_.matmul_forward(ctx_, x.qkv, x.ln1, w.wqkv, N, C, 3 * C);
  k_.attention_forward(ctx_, x.atty, x.qkvr, x.att_lse, x.qkv, B, T, C,
                       c.n_heads, c.rope_theta);
  k_.matmul_forward(ctx_, a_->tmp, x.atty, w.wo, N, C, C);
  k_.add_forward(ctx_, x.mid, in, a_->tmp, size_t(N) * C);
  k_.rmsnorm_forward(ctx_, x.ln2, x.rstd2, x.mid, w.ln2, N, C);
  MoeForward(l, B);  // resid[l + 1] = mid + MoE(ln2)
}

std::vector<int32_t> Model::Routing() const {
  size_t nk = size_t(a_->B) * config_.seq_len * config_.top_k;
  std::vector<int32_t> routing(nk * a_->layers.size());
  for (size_t l = 0; l < a_->layers.size(); ++l) {
    backend_->Download(routing.data() + l * nk, a_->layers[l].expert,
                       sizeof(int32_t) * nk);
  }
  return routing;
}

void Model::ZeroGrad() { ZeroFloats(grads_, num_params_); }

void Model::Backward() {
  const ModelConfig& c = config_;
  Activations& a = *a_;
  const int N = a.B * c.seq_len, C = c.d_model, V = c.vocab_size;
  k_.crossentropy_backward(ctx_, a.dlogits, a.probs, a.targets, loss_scale_ / N,
                           N, V);
  ZeroFloats(a.dln, size_t(N) * C);
  k_.matmul_backward(ctx_, a.dln, g_.lm_head, a.dlogits, a.lnf, p_.lm_head, N,
                     C, V);
  ZeroFloats(a.dres, size_t(N) * C);
  k_.rmsnorm_backward(ctx_, a.dres, g_.lnf, a.dln, a.resid[c.n_layers], p_.lnf,
                      a.rstdf, N, C);
  for (int l = c.n_layers - 1; l >= 0; --l) LayerBackward(l, a.B);
  k_.embedding_backward(ctx_, g_.wte, a.dres, a.tokens, N, C);
}

// On entry a_->dres holds d resid[l + 1]; on exit d resid[l].
void Model::LayerBackward(int l, int B) {
  const ModelConfig& c = config_;
  const int T = c.seq_len, N = B * T, C = c.d_model;
  const LayerViews& w = p_.layers[l];
  const LayerViews& dw = g_.layers[l];
  LayerActivations& x = a_->layers[l];
  Activations& a = *a_;
  MoeBackward(l, B);  // a.dln = d ln2; weights' grads accumulated
  k_.rmsnorm_backward(ctx_, a.dres, dw.ln2, a.dln, x.mid, w.ln2, x.rstd2, N, C);
  ZeroFloats(a.datty, size_t(N) * C);
  k_.matmul_backward(ctx_, a.datty, dw.wo, a.dres, x.atty, w.wo, N, C, C);
  k_.attention_backward(ctx_, a.dqkv, a.att_delta, a.datty, x.qkvr, x.atty,
                        x.att_lse, B, T, C, c.n_heads, c.rope_theta);
  ZeroFloats(a.dln, size_t(N) * C);
  k_.matmul_backward(ctx_, a.dln, dw.wqkv, a.dqkv, x.ln1, w.wqkv, N, C, 3 * C);
  k_.rmsnorm_backward(ctx_, a.dres, dw.ln1, a.dln, a.resid[l], w.ln1, x.rstd1,
                      N, C);
}

float Model::Update(const OptimizerConfig& opt, float lr, int step) {
  StageUpdate(opt, lr, step);
  UpdateOps();
  return CollectNorm();
}

void Model::StageUpdate(const OptimizerConfig& opt, float lr, int step) {
  kernels::AdamwStep s;
  s.lr = lr;
  s.beta1 = opt.beta1;
  s.beta2 = opt.beta2;
  s.eps = opt.eps;
  s.weight_decay = opt.weight_decay;
  s.max_norm = opt.grad_clip;
  s.step = step;
  backend_->Upload(adamw_, &s, sizeof s);
}

// The norm lands in adamw_, where both updates read it: nothing goes back to
// the host between the backward pass and the new parameters.
void Model::UpdateOps() {
  k_.grad_norm_squared(ctx_, &adamw_->norm_squared, grads_, num_params_);
  k_.adamw_update(ctx_, params_, grads_, adam_m_, adam_v_, num_decayed_, adamw_,
                  true);
  k_.adamw_update(ctx_, params_ + num_decayed_, grads_ + num_decayed_,
                  adam_m_ + num_decayed_, adam_v_ + num_decayed_,
                  num_params_ - num_decayed_, adamw_, false);
}

float Model::CollectNorm() {
  kernels::AdamwStep s;
  backend_->Download(&s, adamw_, sizeof s);
  return float(std::sqrt(s.norm_squared));
}

namespace {

void LayoutActivations(const ModelConfig& c, int B, Bump<float>* f,
                       Bump<int32_t>* i, Model::Activations* a) {
  const size_t T = c.seq_len, N = B * T, C = c.d_model, V = c.vocab_size;
  const size_t E = c.n_experts, K = c.top_k, M = N * K, NH = c.n_heads;
  const size_t H = c.expert_hidden(), Hs = size_t(c.n_shared_experts) * H;
  a->resid.resize(c.n_layers + 1);
  for (float*& r : a->resid) r = f->Take(N * C);
  a->layers.resize(c.n_layers);
  for (LayerActivations& x : a->layers) {
    x.ln1 = f->Take(N * C);
    x.rstd1 = f->Take(N);
    x.qkv = f->Take(N * 3 * C);
    x.qkvr = f->Take(N * 3 * C);
    x.att_lse = f->Take(B * NH * T);
    x.atty = f->Take(N * C);
    x.mid = f->Take(N * C);
    x.ln2 = f->Take(N * C);
    x.rstd2 = f->Take(N);
    x.rlogits = f->Take(N * E);
    x.probs = f->Take(N * E);
    x.lse = f->Take(N);
    x.gate = f->Take(M);
    x.expert = i->Take(M);
    x.counts = i->Take(E);
    x.offsets = i->Take(E + 1);
    x.slot = i->Take(M);
    x.xp = f->Take(M * C);
    x.h13 = f->Take(M * 2 * H);
    x.act = f->Take(M * H);
    x.yp = f->Take(M * C);
    x.sh13 = f->Take(N * 2 * Hs);
    x.sact = f->Take(N * Hs);
  }
  a->tokens = i->Take(N);
  a->targets = i->Take(N);
  a->lnf = f->Take(N * C);
  a->rstdf = f->Take(N);
  a->logits = f->Take(N * V);
  a->probs = f->Take(N * V);
  a->losses = f->Take(N);
  a->tmp = f->Take(N * C);
  a->scalars = f->Take(2 * size_t(c.n_layers));
  a->dres = f->Take(N * C);
  a->dln = f->Take(N * C);
  a->datty = f->Take(N * C);
  a->dqkv = f->Take(N * 3 * C);
  a->att_delta = f->Take(B * NH * T);
  a->drlogits = f->Take(N * E);
  a->dgate = f->Take(M);
  a->dyp = f->Take(M * C);
  a->dact = f->Take(M * H);
  a->dh13 = f->Take(M * 2 * H);
  a->dxp = f->Take(M * C);
  a->dsact = f->Take(N * Hs);
  a->dsh13 = f->Take(N * 2 * Hs);
  a->dlogits = f->Take(N * V);
}

}  // namespace

}  // namespace moesweep::worker
