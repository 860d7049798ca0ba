// The campaign spec: what a user asks of moesweep (DESIGN.md, issue 5). The
// law to fit, the design space runs are drawn from, the per-run limits and the
// total budget, the question whose 95% interval must shrink to the target
// width, and how runs are trained and chosen. Shared by the coordinator, which
// stores the normalized spec, and the CLI; written in YAML (examples/
// campaign_*.yaml).
//
// Every error is INVALID_ARGUMENT with the message "<path>: <rule>, got
// <value>", e.g. "space.experts[2]: must be >= 1, got 0".
//
// Thread-safety: every function here is thread-safe; none keeps state.

#ifndef MOESWEEP_CAMPAIGN_CAMPAIGN_H_
#define MOESWEEP_CAMPAIGN_CAMPAIGN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fitter/fitter.h"

namespace moesweep::campaign {

struct LawSpec {
  // One of fitter::FamilyNames(), or "expr". A string, not an enum: the
  // fitter owns the list of families and fitter::Law names them this way.
  std::string family;
  fitter::ExprSpec expr;      // family == "expr" only; empty otherwise
  double huber_delta = 1e-3;  // on log-loss residuals; > 0

  friend bool operator==(const LawSpec& a, const LawSpec& b);
};

// The values one dimension of the design space may take: a list, or a range.
struct Axis {
  std::vector<double> values;  // a list: exactly these, when non-empty
  // A range, when `values` is empty: [min, max], drawn uniformly in log space
  // when `log`. `step` > 0 keeps only the grid min + i·step (log: min·step^i,
  // step > 1); 0 leaves the range continuous (integer dimensions: every
  // integer).
  double min = 0;
  double max = 0;
  bool log = false;
  double step = 0;

  bool is_list() const { return !values.empty(); }
  friend bool operator==(const Axis&, const Axis&) = default;
};

// In YAML the kind follows from the keys: `params` or `active_params` make a
// space of law features.
enum class SpaceKind {
  kArchitecture,  // runs are architectures; the fitter derives every feature
  kFeatures,      // runs are points (params, active_params, tokens) directly
};

struct SpaceSpec {
  SpaceKind kind = SpaceKind::kArchitecture;
  Axis tokens;  // training tokens per run, >= 1; both kinds

  // kArchitecture. Combinations with top_k > experts are never proposed.
  Axis d_model;                           // multiples of heads or head_dim
  Axis layers;                            // blocks
  Axis experts = {.values = {1}};         // routed experts; 1 is dense
  Axis top_k = {.values = {1}};           // routed experts per token
  Axis granularity = {.values = {1}};     // d_ff / d_expert
  Axis shared_experts = {.values = {0}};  // always-active experts
  bool experts_power_of_two = false;      // refuse other expert counts
  std::int64_t vocab_size = 0;            // required, >= 1
  std::int64_t seq_len = 0;               // training context, tokens
  std::optional<std::int64_t> heads;      // exactly one of heads and
  std::optional<std::int64_t> head_dim;   //   head_dim (d_model/heads)

  // kFeatures: total and active parameters, embeddings included.
  Axis params;
  std::optional<Axis> active_params;  // needed when the law reads it

  friend bool operator==(const SpaceSpec&, const SpaceSpec&) = default;
};

// Per run: no proposed run may exceed a limit that is set.
struct LimitsSpec {
  std::optional<double> max_flops;   // training FLOPs, <= budget.flops
  std::optional<double> max_tokens;  // >= the smallest space.tokens
  std::optional<double> max_seconds;
  friend bool operator==(const LimitsSpec&, const LimitsSpec&) = default;
};

struct BudgetSpec {
  double flops = 0;  // training FLOPs over all runs; required, > 0
  std::optional<double> gpu_hours;
  friend bool operator==(const BudgetSpec&, const BudgetSpec&) = default;
};

enum class QuestionKind {
  kComputeOptimalLoss,   // loss of the compute-optimal model at `flops`
  kOptimalArchitecture,  // that model's architecture, under the caps
  kLawParameter,         // one parameter of the law, `name`
  kPrediction,           // the loss at `at`
};

struct FeatureValue {
  fitter::Feature feature = fitter::Feature::kParams;
  double value = 0;
  friend bool operator==(const FeatureValue&, const FeatureValue&) = default;
};

struct QuestionSpec {
  QuestionKind kind = QuestionKind::kComputeOptimalLoss;
  double flops = 0;  // compute_optimal_loss, optimal_architecture: > 0
  // optimal_architecture only; fitter::OptimalOptions' caps.
  std::optional<double> max_total_params;
  std::optional<double> max_active_params;
  std::optional<double> max_memory_bytes;
  std::optional<double> max_flops_per_token;
  // law_parameter: a natural parameter name (fitter::NaturalParams: "A",
  // "alpha"), not a θ coordinate.
  std::string name;
  // prediction: every feature the law reads, once each, in the given order.
  std::vector<FeatureValue> at;
  friend bool operator==(const QuestionSpec&, const QuestionSpec&) = default;
};

enum class Schedule { kCosine, kWsd };  // cosine; warmup-stable-decay
// A `wsd` run's cooldown: its last fifth, decaying linearly. Branching
// campaigns (TrainingSpec::branching) price branches by it.
inline constexpr double kWsdDecayFraction = 0.2;
enum class LrRule {
  kConstant,      // lr_constant
  kLudziejewski,  // LearningRate() below
  kPower,         // lr_power: a rule measured by scripts/lr-sweep
};

// lr = base·(N / reference)^-exponent·E^-experts_exponent, N the active
// non-embedding parameters and E the routed experts. YAML: `lr: {rule: power,
// base: 1e-2, exponent: 0.3, reference: 1e5, experts_exponent: 0.1}`, the
// last optional (0).
struct PowerLrRule {
  double base = 0;              // the rate at N = reference, E = 1; in (0, 1)
  double exponent = 0;          // in [0, 2]: larger models take smaller rates
  double reference = 0;         // parameters, in [1, 1e15]
  double experts_exponent = 0;  // in [0, 2]
  friend bool operator==(const PowerLrRule&, const PowerLrRule&) = default;
};

struct TrainingSpec {
  Schedule schedule = Schedule::kCosine;
  LrRule lr_rule = LrRule::kLudziejewski;
  double lr_constant = 0;                   // kConstant only, > 0
  PowerLrRule lr_power;                     // kPower only
  std::optional<double> warmup_tokens;      // >= 0, < smallest space.tokens
  std::optional<double> batch_tokens;       // a multiple of space.seq_len
  std::optional<double> eval_every_tokens;  // > 0
  // Branching runs (issue 18): under `schedule: wsd`, a run's stable phase
  // saves checkpoints, and the active proposer may buy a later run of the
  // same architecture as a cooldown branch from one of them, or an extension
  // of it, paying only the tokens it adds. Needs strategy active and a range
  // of space.tokens.
  bool branching = false;
  friend bool operator==(const TrainingSpec&, const TrainingSpec&) = default;
};

// Which architectures a validation run may be.
enum class ValidationShape {
  // Those whose tokens per active parameter lie within the range of the
  // fitted runs: the run extrapolates the law in scale, not in shape. A law
  // fitted on a 10x token range cannot know where a small model stops
  // improving, so its compute-optimal pick over any shape tends to be the
  // smallest model trained far past every token count it saw.
  kObserved,
  // Any architecture of the space at any token count.
  kAny,
};

// Validation runs (issue 12): once the campaign stops, the coordinator trains
// `runs` more runs that never join the fit and compares each observed loss
// with the law's 95% interval for a new run. Run i of `runs` (i = 1..runs) is
// the law's compute-optimal architecture of the design space, among those
// `shape` allows, at flops_multiple^(i/runs) times the training FLOPs of the
// largest fitted run, so the runs spread geometrically up to the multiple.
// `moesweep simulate` ignores it.
struct ValidationSpec {
  int runs = 1;               // in [1, kMaxValidationRuns]
  double flops_multiple = 4;  // in [1, kMaxValidationFlopsMultiple]
  ValidationShape shape = ValidationShape::kObserved;
  friend bool operator==(const ValidationSpec&,
                         const ValidationSpec&) = default;
};
inline constexpr int kMaxValidationRuns = 16;
inline constexpr double kMaxValidationFlopsMultiple = 1000;

// How runs are chosen: the proposer's own enum (fitter/proposer.h).
using Strategy = fitter::Strategy;

struct CampaignSpec {
  std::string name;  // optional; letters, digits, '-', '_', '.'; <= 64 chars
  LawSpec law;
  SpaceSpec space;
  LimitsSpec limits;
  BudgetSpec budget;
  QuestionSpec question;
  double target_relative_width = 0;  // of the 95% interval, in (0, 1)
  int max_parallel_runs = 1;         // >= 1
  TrainingSpec training;
  Strategy strategy = Strategy::kActive;
  std::uint64_t seed = 0;
  std::optional<ValidationSpec> validate;  // none: no validation runs
  friend bool operator==(const CampaignSpec&, const CampaignSpec&) = default;
};

// Bounds on the work one spec can cause, checked before that work starts: a
// coordinator parses specs from any admin and keeps them for weeks.
inline constexpr std::size_t kMaxSpecBytes = 64 * 1024;
// Entries of any one list (an axis, an expr parameter's starts).
inline constexpr std::size_t kMaxListEntries = 1024;
// Starting points of an expr law's fit: the product of its starts lists.
inline constexpr double kMaxExprStarts = 10000;

// Parses and validates. INVALID_ARGUMENT naming the path for text over
// kMaxSpecBytes or that is not YAML, an unknown key (with the nearest known
// one), a value of the wrong type, a missing required field, or a broken rule
// (ValidateCampaignSpec).
StatusOr<CampaignSpec> ParseCampaignSpec(std::string_view yaml_text);
// As above, from a file; NOT_FOUND when `path` cannot be read. Messages are
// prefixed with "<path>: ".
StatusOr<CampaignSpec> ReadCampaignSpec(const std::string& path);

// The normalized YAML of `spec`: every field, defaults included, numbers
// exact. REQUIRES: ValidateCampaignSpec(spec).ok(). Then
// ParseCampaignSpec(CampaignSpecToYaml(spec)) gives back `spec`.
std::string CampaignSpecToYaml(const CampaignSpec& spec);

// Every rule of every field, across fields too (top_k <= experts, the law
// reads only features the space gives, the question's parameter or features
// belong to the law). OK, or the first broken rule as INVALID_ARGUMENT.
Status ValidateCampaignSpec(const CampaignSpec& spec);

// The law's family and expression with θ empty, for fitter::LawFeatures and
// fitter::ThetaNames. INVALID_ARGUMENT ("law.family: ..." or
// "law.expression: ...") for an unknown family or a bad expression.
StatusOr<fitter::Law> LawShape(const CampaignSpec& spec);

// The natural parameter names of the law ("E", "A", "alpha", ...).
// INVALID_ARGUMENT as LawShape.
StatusOr<std::vector<std::string>> LawParameterNames(const CampaignSpec& spec);

// What the fitter and the proposer need of a campaign: the law to fit (θ
// empty), the design space runs are drawn from (per-run limits included) and
// the question. Shared by `moesweep simulate` and the coordinator.
struct CampaignPlan {
  fitter::Law shape;
  fitter::DesignSpace space;
  fitter::Question question;
};
// INVALID_ARGUMENT as LawShape, or "question.name: ..." for a parameter the
// law does not have. REQUIRES: ValidateCampaignSpec(spec).ok().
StatusOr<CampaignPlan> PlanCampaign(const CampaignSpec& spec);

// The peak learning rate of a run with `active_non_embed` active
// non-embedding parameters and `num_experts` routed experts: lr_constant,
// Ludziejewski et al. 2025's fit exp(8.39 − 0.81·ln N_act − 0.25·ln E), or
// lr_power's min(base·(N_act / reference)^-exponent·E^-experts_exponent,
// kMaxLearningRate).
// REQUIRES: both arguments >= 1.
double LearningRate(const TrainingSpec& training, double active_non_embed,
                    double num_experts);
// A power rule extrapolated far below its reference could ask for any rate;
// it is capped here (no AdamW run of ours trains above it).
inline constexpr double kMaxLearningRate = 0.1;

// The fewest optimizer steps a run should take: before a few hundred steps
// the loss still falls steeply with every step, and short runs sit above the
// power law the longer ones follow (examples/LR_SWEEP.md).
inline constexpr double kMinRunSteps = 200;

// Advice about a valid spec that is not an error: today, a smallest run of
// fewer than kMinRunSteps steps of training.batch_tokens ("space.tokens: the
// smallest run, 2e4 tokens, is 40 steps of training.batch_tokens (512); ...").
// Empty when there is nothing to say. REQUIRES:
// ValidateCampaignSpec(spec).ok().
std::vector<std::string> CampaignSpecWarnings(const CampaignSpec& spec);

// YAML spellings ("compute_optimal_loss", "wsd", "sobol", ...) and back; the
// latter INVALID_ARGUMENT listing the known spellings.
std::string_view QuestionKindName(QuestionKind kind);
std::string_view ScheduleName(Schedule schedule);
StatusOr<QuestionKind> QuestionKindFromName(std::string_view name);
StatusOr<Schedule> ScheduleFromName(std::string_view name);
StatusOr<Strategy> StrategyFromName(std::string_view name);

}  // namespace moesweep::campaign

#endif  // MOESWEEP_CAMPAIGN_CAMPAIGN_H_
