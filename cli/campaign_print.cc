#include "cli/campaign_print.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "cli/text_table.h"
#include "fitter/fitter.h"

namespace moesweep::cli {
namespace {

std::string Strip(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

std::string TrialStateName(v1::TrialState s) {
  return Strip(v1::TrialState_Name(s), "TRIAL_STATE_");
}

std::string IntervalText(const v1::Interval& i) {
  std::string text = "[";  // appends: gcc 12 warns on "[" + std::string
  text += Sig(i.lower());
  text += ", ";
  text += Sig(i.upper());
  text += "]";
  return text;
}

// (upper - lower) / |value|, as the stopping rule measures it.
double RelativeWidth(const v1::Answer& a) {
  return a.value() == 0 ? INFINITY
                        : (a.interval().upper() - a.interval().lower()) /
                              std::abs(a.value());
}

std::string Runs(const v1::TrialCounts& t) {
  std::string s = std::to_string(t.succeeded()) + " done";
  if (t.running() > 0) s += ", " + std::to_string(t.running()) + " running";
  if (t.queued() > 0) s += ", " + std::to_string(t.queued()) + " queued";
  if (t.failed() > 0) s += ", " + std::to_string(t.failed()) + " failed";
  return s;
}

}  // namespace

std::string StateName(v1::CampaignState state) {
  return Strip(v1::CampaignState_Name(state), "CAMPAIGN_STATE_");
}

void PrintCampaigns(const std::vector<v1::Campaign>& campaigns,
                    std::ostream& out) {
  TextTable t({"id", "name", "state", "family", "runs", "spent", "answer",
               "interval", "width", "target"});
  for (const v1::Campaign& c : campaigns) {
    const bool answered = c.has_answer();
    t.Add({c.campaign_id(), c.name(), StateName(c.state()), c.family(),
           Runs(c.trials()),
           c.budget_flops() > 0 ? Percent(c.spent_flops() / c.budget_flops())
                                : "-",
           answered ? Sig(c.answer().value()) : "-",
           answered ? IntervalText(c.answer().interval()) : "-",
           answered ? Percent(RelativeWidth(c.answer())) : "-",
           Percent(c.target_interval_width())});
  }
  t.Print(out);
}

void PrintCampaign(const v1::Campaign& c, std::ostream& out) {
  out << "campaign:  " << c.campaign_id() << " (" << c.name() << ")\n"
      << "state:     " << StateName(c.state());
  if (!c.state_reason().empty()) out << ": " << c.state_reason();
  out << "\nfamily:    " << c.family() << "\n"
      << "budget:    " << Sig(c.spent_flops(), 3) << " of "
      << Sig(c.budget_flops(), 3) << " FLOPs spent";
  if (c.budget_flops() > 0) {
    out << " (" << Percent(c.spent_flops() / c.budget_flops()) << ")";
  }
  if (c.budget_gpu_hours() > 0) {
    out << "\n           " << Sig(c.spent_gpu_hours(), 3) << " of "
        << Sig(c.budget_gpu_hours(), 3) << " GPU-hours spent ("
        << Percent(c.spent_gpu_hours() / c.budget_gpu_hours()) << ")";
  }
  out << "\nruns:      " << Runs(c.trials()) << "\n";
  if (c.has_answer()) {
    const v1::Answer& a = c.answer();
    out << "answer:    " << Sig(a.value()) << " " << IntervalText(a.interval())
        << ", width " << Percent(RelativeWidth(a)) << " (target "
        << Percent(c.target_interval_width()) << ")"
        << (a.target_met() ? ", target met" : "") << "\n";
  } else {
    out << "answer:    none yet (target width "
        << Percent(c.target_interval_width()) << ")\n";
  }
  out << "law:       version " << c.law_version() << "\n";
}

void PrintLaw(const v1::GetLawResponse& r, std::ostream& out) {
  const v1::LawEstimate& law = r.law();
  out << "law " << law.campaign_id() << " version " << law.version() << ": "
      << law.family() << ", " << law.num_observations() << " runs\n"
      << "  " << law.expression() << "\n\n";
  // The fit's coordinates (ln A for a scale constant) and, where the family
  // is built in, the natural parameter a law file names (A), its interval
  // mapped the same way (the map is monotone).
  fitter::Law shape;
  shape.family = law.family();
  for (const v1::LawParameter& p : law.parameters()) {
    shape.theta.push_back(p.value());
  }
  auto natural = [&](size_t i,
                     double theta) -> std::optional<fitter::NamedValue> {
    fitter::Law at = shape;
    at.theta[i] = theta;
    StatusOr<std::vector<fitter::NamedValue>> n = fitter::NaturalParams(at);
    if (!n.ok() || n->size() != at.theta.size()) return std::nullopt;
    return (*n)[i];
  };
  TextTable t({"parameter", "value", "std_error", "95% lower", "95% upper",
               "natural", "natural 95%", "note"});
  for (size_t i = 0; i < static_cast<size_t>(law.parameters_size()); ++i) {
    const v1::LawParameter& p = law.parameters(static_cast<int>(i));
    const std::optional<fitter::NamedValue> mid = natural(i, p.value());
    const std::optional<fitter::NamedValue> lo =
        natural(i, p.interval().lower());
    const std::optional<fitter::NamedValue> hi =
        natural(i, p.interval().upper());
    t.Add({p.name(), Sig(p.value()), Sig(p.std_error(), 2),
           Sig(p.interval().lower()), Sig(p.interval().upper()),
           mid ? mid->name + " = " + Sig(mid->value) : "",
           lo && hi ? "[" + Sig(lo->value) + ", " + Sig(hi->value) + "]" : "",
           p.at_bound() ? "at its bound: interval not trustworthy" : ""});
  }
  t.Print(out);
  if (r.has_answer()) {
    const v1::Answer& a = r.answer();
    out << "\nanswer: " << Sig(a.value()) << " " << IntervalText(a.interval())
        << ", width " << Percent(RelativeWidth(a))
        << (a.target_met() ? " (target met)" : "") << "\n";
  }
  if (r.out_of_sample_size() > 0) {
    std::vector<double> abs_errors;
    for (const v1::OutOfSampleError& e : r.out_of_sample()) {
      abs_errors.push_back(std::abs(e.log_error()));
    }
    std::sort(abs_errors.begin(), abs_errors.end());
    out << "out of sample: " << abs_errors.size()
        << " runs predicted before they were fitted, median |log error| "
        << Sig(abs_errors[abs_errors.size() / 2], 3) << "\n";
  }
  if (r.validations_size() > 0) {
    out << "\n";
    TextTable v({"validation", "predicted", "95% for a new run", "observed",
                 "log error", "inside"});
    for (const v1::Validation& x : r.validations()) {
      const bool seen = x.has_observed_loss();
      v.Add({x.trial_id(), Sig(x.predicted_loss()),
             IntervalText(x.predicted_interval()),
             seen ? Sig(x.observed_loss()) : "pending",
             seen ? Sig(x.log_error(), 3) : "",
             seen ? (x.inside() ? "yes" : "no") : ""});
    }
    v.Print(out);
  }
}

void PrintTrials(const std::vector<v1::Trial>& trials, std::ostream& out) {
  TextTable t({"trial", "state", "d_model", "layers", "experts", "top_k", "g",
               "shared", "tokens", "n_active", "loss", "flops", "worker"});
  for (const v1::Trial& x : trials) {
    const v1::ArchitectureSpec& a = x.spec().architecture();
    t.Add({x.spec().trial_id(), TrialStateName(x.state()),
           std::to_string(a.d_model()), std::to_string(a.num_layers()),
           std::to_string(a.num_experts()), std::to_string(a.top_k()),
           std::to_string(a.granularity()),
           std::to_string(a.num_shared_experts()),
           Sig(static_cast<double>(x.spec().train_tokens()), 3),
           Sig(x.features().n_active_ne(), 3),
           x.has_final_eval_loss() ? Sig(x.final_eval_loss()) : "-",
           Sig(x.training_flops(), 3), x.worker_id()});
  }
  t.Print(out);
}

void PrintOptimal(const v1::OptimalResponse& r, std::ostream& out) {
  const v1::Prediction& p = r.prediction();
  const v1::RunFeatures& f = p.features();
  // The coordinator sets only the expert layout of the architecture: the
  // optimum's sizes lie beyond the campaign's widths, so they come from
  // the features.
  out << "params:       " << Sig(f.n_total_ne() + f.n_embed(), 3) << " total, "
      << Sig(f.n_active_ne() + f.n_embed(), 3) << " active\n";
  if (r.architecture().num_experts() > 1) {
    out << "experts:      " << r.architecture().num_experts()
        << " (granularity " << r.architecture().granularity() << ")\n";
  }
  if (f.active_experts() > 0 && f.shared_ratio() > 0) {
    out << "activated:    " << Sig(f.active_experts(), 3)
        << " experts, shared ratio " << Sig(f.shared_ratio(), 3) << "\n";
  }
  out << "tokens:       " << Sig(static_cast<double>(r.train_tokens()), 3)
      << "\n"
      << "loss:         " << Sig(p.loss()) << " "
      << IntervalText(p.confidence_interval()) << " (the law's mean); "
      << IntervalText(p.prediction_interval()) << " for one new run\n"
      << "flops:        " << Sig(p.training_flops(), 3) << "\n"
      << "law version:  " << r.law_version() << "\n";
}

std::string ProgressLine(const v1::Campaign& c, double flops_per_second) {
  std::string line = c.campaign_id() + " " + StateName(c.state());
  const double budget = c.budget_flops();
  if (budget > 0) {
    line += " | budget " + Percent(c.spent_flops() / budget) + " of " +
            Sig(budget, 2) + " FLOPs";
  }
  line += " | runs " + Runs(c.trials());
  if (c.has_answer()) {
    const double width = RelativeWidth(c.answer());
    line += " | width " + Percent(width) + " (target " +
            Percent(c.target_interval_width()) + ")";
    if (flops_per_second > 0 && budget > c.spent_flops()) {
      double to_go = budget - c.spent_flops();
      std::string why = "budget";
      const double target = c.target_interval_width();
      if (std::isfinite(width) && target > 0 && width > target) {
        // A width that falls as 1/sqrt(FLOPs) reaches the target after
        // (width/target)^2 times the FLOPs spent so far.
        const double needed =
            c.spent_flops() * (width / target) * (width / target) -
            c.spent_flops();
        if (needed < to_go) {
          to_go = needed;
          why = "target";
        }
      }
      line += " | ETA " + Duration(to_go / flops_per_second) + " (" + why + ")";
    }
  } else {
    line += " | no answer yet";
  }
  return line;
}

}  // namespace moesweep::cli
