#include "cli/law_json.h"

#include <nlohmann/json.hpp>

namespace moesweep::cli {

std::string FitSummaryJson(const fitter::FitResult& fit,
                           std::span<const fitter::NamedValue> params) {
  nlohmann::ordered_json j;
  j["law"] = fit.law.family;
  j["params"] = nlohmann::ordered_json::object();
  for (const fitter::NamedValue& p : params) j["params"][p.name] = p.value;
  j["objective"] = fit.objective;
  j["runs"] = fit.runs;
  j["seconds"] = fit.seconds;
  return j.dump();
}

StatusOr<std::string> LawFileJson(const fitter::FitResult& fit,
                                  double huber_delta) {
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<fitter::NamedValue> params,
                            fitter::NaturalParams(fit.law));
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<std::string_view> names,
                            fitter::ThetaNames(fit.law.family));
  nlohmann::ordered_json j;
  j["format_version"] = 1;
  j["law"] = fit.law.family;
  j["params"] = nlohmann::ordered_json::object();
  for (const fitter::NamedValue& p : params) j["params"][p.name] = p.value;
  j["theta"] = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < names.size(); ++i)
    j["theta"][std::string(names[i])] = fit.law.theta[i];
  j["huber_delta"] = huber_delta;
  j["objective"] = fit.objective;
  j["runs"] = fit.runs;
  j["starts"] = fit.starts;
  j["warnings"] = fit.warnings;
  return j.dump(2) + "\n";
}

}  // namespace moesweep::cli
