#include "cli/train_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace moesweep::cli {

namespace {

using Setter = std::function<Status(const YAML::Node&, const std::string&)>;

// Converts `node` to T, or INVALID_ARGUMENT naming `path` and the value.
template <typename T>
Status Read(const YAML::Node& node, const std::string& path, const char* kind,
            T* out) {
  try {
    if (!node.IsScalar()) {
      return InvalidArgumentError(path + ": must be " + kind);
    }
    *out = node.as<T>();
    return OkStatus();
  } catch (const YAML::Exception&) {
    return InvalidArgumentError(path + ": must be " + kind + ", got '" +
                                node.Scalar() + "'");
  }
}

template <typename T>
Setter Field(T* out, const char* kind) {
  return [out, kind](const YAML::Node& node, const std::string& path) {
    return Read(node, path, kind, out);
  };
}
Setter Int(int* out) { return Field(out, "an integer"); }
Setter Int64(int64_t* out) { return Field(out, "an integer"); }
Setter Float(float* out) { return Field(out, "a number"); }
Setter Bool(bool* out) { return Field(out, "true or false"); }

// A field that names one of two values, `a` or `b`.
template <typename T>
Setter OneOf(T* out, const char* a, T a_value, const char* b, T b_value) {
  const std::string kind = std::string(a) + " or " + b;
  return [=](const YAML::Node& node, const std::string& path) -> Status {
    std::string name;
    MOESWEEP_RETURN_IF_ERROR(Read(node, path, kind.c_str(), &name));
    if (name != a && name != b) {
      return InvalidArgumentError(path + ": must be " + kind + ", got '" +
                                  name + "'");
    }
    *out = name == a ? a_value : b_value;
    return OkStatus();
  };
}

// Applies every key of `map` through `fields`; an unknown key is an error.
Status ApplyMap(const YAML::Node& map, const std::string& prefix,
                const std::map<std::string, Setter>& fields) {
  if (!map.IsMap()) {
    return InvalidArgumentError(
        (prefix.empty() ? std::string("top level") : prefix) +
        ": must be a mapping");
  }
  for (const auto& entry : map) {
    // A complex key (`? {a: b}`) has no name; as<std::string>() would throw.
    if (!entry.first.IsScalar()) {
      return InvalidArgumentError(
          (prefix.empty() ? std::string("top level") : prefix) +
          ": every key must be a plain name");
    }
    std::string key = entry.first.Scalar();
    std::string path = prefix.empty() ? key : prefix + "." + key;
    auto it = fields.find(key);
    if (it == fields.end())
      return InvalidArgumentError(path + ": unknown field");
    MOESWEEP_RETURN_IF_ERROR(it->second(entry.second, path));
  }
  return OkStatus();
}

Status ApplyModel(const YAML::Node& node, worker::ModelConfig* m) {
  return ApplyMap(node, "model",
                  {{"vocab_size", Int(&m->vocab_size)},
                   {"d_model", Int(&m->d_model)},
                   {"n_layers", Int(&m->n_layers)},
                   {"n_heads", Int(&m->n_heads)},
                   {"seq_len", Int(&m->seq_len)},
                   {"n_experts", Int(&m->n_experts)},
                   {"top_k", Int(&m->top_k)},
                   {"ffn_hidden", Int(&m->ffn_hidden)},
                   {"granularity", Int(&m->granularity)},
                   {"n_shared_experts", Int(&m->n_shared_experts)},
                   {"tied_embeddings", Bool(&m->tied_embeddings)},
                   {"rope_theta", Float(&m->rope_theta)},
                   {"aux_loss_coef", Float(&m->aux_loss_coef)},
                   {"z_loss_coef", Float(&m->z_loss_coef)},
                   {"init_std", Float(&m->init_std)}});
}

Status ApplyOptimizer(const YAML::Node& node, worker::OptimizerConfig* o) {
  return ApplyMap(
      node, "optimizer",
      {{"lr", Float(&o->lr)},
       {"min_lr_ratio", Float(&o->min_lr_ratio)},
       {"warmup_steps", Int(&o->warmup_steps)},
       {"schedule", OneOf(&o->schedule, "cosine", worker::Schedule::kCosine,
                          "wsd", worker::Schedule::kWarmupStableDecay)},
       {"decay_fraction", Float(&o->decay_fraction)},
       {"weight_decay", Float(&o->weight_decay)},
       {"beta1", Float(&o->beta1)},
       {"beta2", Float(&o->beta2)},
       {"eps", Float(&o->eps)},
       {"grad_clip", Float(&o->grad_clip)}});
}

Status Apply(const YAML::Node& root, worker::TrainOptions* t) {
  Setter eval_at = [t](const YAML::Node& n, const std::string& path) {
    if (!n.IsSequence()) {
      return InvalidArgumentError(path + ": must be a list of token counts");
    }
    t->eval_at_tokens.clear();
    for (size_t i = 0; i < n.size(); ++i) {
      int64_t v;
      MOESWEEP_RETURN_IF_ERROR(
          Read(n[i], path + "[" + std::to_string(i) + "]", "an integer", &v));
      t->eval_at_tokens.push_back(v);
    }
    return OkStatus();
  };
  Setter seed = [t](const YAML::Node& n, const std::string& path) {
    return Read(n, path, "a non-negative integer", &t->seed);
  };
  return ApplyMap(
      root, "",
      {{"data_dir", Field(&t->data_dir, "a path")},
       {"steps", Int64(&t->steps)},
       {"batch_size", Int(&t->batch_size)},
       {"seed", seed},
       {"threads", Int(&t->threads)},
       {"backend", OneOf(&t->backend, "cpu", worker::TrainBackend::kCpu, "cuda",
                         worker::TrainBackend::kCuda)},
       {"device", Int(&t->device)},
       {"gpus", Int(&t->gpus)},
       {"matmul", OneOf(&t->matmul, "fp32", worker::MatmulMath::kFp32, "bf16",
                        worker::MatmulMath::kBf16)},
       {"eval_every_tokens", Int64(&t->eval_every_tokens)},
       {"eval_at_tokens", eval_at},
       {"eval_tokens", Int64(&t->eval_tokens)},
       {"model", [t](const YAML::Node& n,
                     const std::string&) { return ApplyModel(n, &t->model); }},
       {"optimizer", [t](const YAML::Node& n, const std::string&) {
          return ApplyOptimizer(n, &t->optimizer);
        }}});
}

}  // namespace

StatusOr<worker::TrainOptions> ParseTrainConfig(const std::string& yaml,
                                                const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(source + ": not YAML: " + e.what());
  }
  worker::TrainOptions options;
  Status s = Apply(root, &options);
  if (s.ok()) s = options.Validate();
  if (s.ok() && options.data_dir.empty()) {
    s = InvalidArgumentError("data_dir: required");
  }
  if (!s.ok())
    return InvalidArgumentError(source + ": " + std::string(s.message()));
  return options;
}

StatusOr<worker::TrainOptions> LoadTrainConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError(path + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseTrainConfig(text.str(), path);
}

}  // namespace moesweep::cli
