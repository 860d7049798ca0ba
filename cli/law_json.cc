#include "cli/law_json.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>

namespace moesweep::cli {
namespace {

using Json = nlohmann::ordered_json;

nlohmann::ordered_json ExprJson(const fitter::ExprSpec& expr) {
  Json j;
  j["expression"] = expr.expression;
  j["params"] = Json::array();
  for (const fitter::ExprParam& p : expr.params) {
    j["params"].push_back({{"name", p.name},
                           {"lower", p.lower},
                           {"upper", p.upper},
                           {"starts", p.starts}});
  }
  return j;
}

// {"<θ coordinate>": "lower" | "upper"} for each coordinate on a bound.
StatusOr<Json> AtBoundJson(const fitter::Law& law) {
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<fitter::ParameterAtBound> at_bound,
                            fitter::ParametersAtBound(law));
  Json j = Json::object();
  for (const fitter::ParameterAtBound& b : at_bound)
    j[b.name] = b.side == fitter::BoundSide::kLower ? "lower" : "upper";
  return j;
}

// Reads j[key] as T, or an error naming the file and key.
template <typename T>
StatusOr<T> Get(const Json& j, const std::string& key,
                const std::string& path) {
  if (!j.contains(key))
    return InvalidArgumentError(path + ": missing key '" + key + "'");
  if constexpr (std::is_integral_v<T>) {
    // get<int> would cast 1e300 or 2^40 unchecked (undefined behaviour).
    const Json& v = j.at(key);
    const bool fits =
        v.is_number_unsigned()
            ? v.get<std::uint64_t>() <=
                  std::uint64_t(std::numeric_limits<T>::max())
            : v.is_number_integer() &&
                  v.get<std::int64_t>() >= std::numeric_limits<T>::min() &&
                  v.get<std::int64_t>() <= std::numeric_limits<T>::max();
    if (!fits) {
      return InvalidArgumentError(path + ": key '" + key +
                                  "' must be an integer in range");
    }
  }
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    return InvalidArgumentError(path + ": key '" + key +
                                "' has the wrong type");
  }
}

}  // namespace

std::string FitSummaryJson(const fitter::FitResult& fit,
                           std::span<const fitter::NamedValue> params) {
  Json j;
  j["law"] = fit.law.family;
  j["params"] = Json::object();
  for (const fitter::NamedValue& p : params) j["params"][p.name] = p.value;
  j["objective"] = fit.objective;
  j["runs"] = fit.runs;
  j["seconds"] = fit.seconds;
  // A fitted law always resolves; a law that did not would have no bounds.
  StatusOr<Json> at_bound = AtBoundJson(fit.law);
  j["at_bound"] = at_bound.ok() ? *at_bound : Json::object();
  return j.dump();
}

StatusOr<std::string> LawFileJson(const LawFile& file) {
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<fitter::NamedValue> params,
                            fitter::NaturalParams(file.law));
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<std::string> names,
                            fitter::ThetaNames(file.law));
  Json j;
  j["format_version"] = 1;
  j["law"] = file.law.family;
  j["params"] = Json::object();
  for (const fitter::NamedValue& p : params) j["params"][p.name] = p.value;
  j["theta"] = Json::object();
  for (std::size_t i = 0; i < names.size(); ++i)
    j["theta"][names[i]] = file.law.theta[i];
  if (file.uncertainty) {
    const std::size_t p = names.size();
    const std::vector<double>& cov = file.uncertainty->covariance;
    j["covariance"] = Json::array();
    for (std::size_t r = 0; r < p; ++r) {
      j["covariance"].push_back(
          std::vector<double>(cov.begin() + r * p, cov.begin() + (r + 1) * p));
    }
    j["residual_sigma"] = file.uncertainty->residual_sigma;
    // 95% intervals of the natural parameters, from θ's normal intervals.
    const double z = fitter::TwoSidedZ(0.95);
    j["intervals"] = Json::object();
    for (std::size_t i = 0; i < p; ++i) {
      fitter::Law lo = file.law, hi = file.law;
      lo.theta[i] -= z * std::sqrt(cov[i * p + i]);
      hi.theta[i] += z * std::sqrt(cov[i * p + i]);
      MOESWEEP_ASSIGN_OR_RETURN(auto lo_params, fitter::NaturalParams(lo));
      MOESWEEP_ASSIGN_OR_RETURN(auto hi_params, fitter::NaturalParams(hi));
      j["intervals"][params[i].name] = {lo_params[i].value, hi_params[i].value};
    }
  }
  j["huber_delta"] = file.huber_delta;
  j["objective"] = file.objective;
  j["runs"] = file.runs;
  j["starts"] = file.starts;
  j["warnings"] = file.warnings;
  MOESWEEP_ASSIGN_OR_RETURN(j["at_bound"], AtBoundJson(file.law));
  if (file.law.family == "expr") j["expr"] = ExprJson(file.law.expr);
  return j.dump(2) + "\n";
}

StatusOr<LawFile> ReadLawFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError(path + ": cannot open file");
  std::ostringstream text;
  text << in.rdbuf();
  Json j;
  try {
    j = Json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number beyond a double (1e999).
    return InvalidArgumentError(
        path + ": not a law file (not JSON: " + e.what() + ")");
  }
  if (!j.is_object())
    return InvalidArgumentError(path + ": not a law file (not an object)");
  MOESWEEP_ASSIGN_OR_RETURN(int version, Get<int>(j, "format_version", path));
  if (version != 1) {
    return InvalidArgumentError(path + ": format_version " +
                                std::to_string(version) +
                                " is not supported (this moesweep reads 1)");
  }
  LawFile file;
  MOESWEEP_ASSIGN_OR_RETURN(file.law.family, Get<std::string>(j, "law", path));
  if (file.law.family == "expr") {
    MOESWEEP_ASSIGN_OR_RETURN(Json expr, Get<Json>(j, "expr", path));
    MOESWEEP_ASSIGN_OR_RETURN(
        file.law.expr.expression,
        Get<std::string>(expr, "expression", path + ": expr"));
    MOESWEEP_ASSIGN_OR_RETURN(Json params,
                              Get<Json>(expr, "params", path + ": expr"));
    for (const Json& p : params) {
      fitter::ExprParam param;
      MOESWEEP_ASSIGN_OR_RETURN(
          param.name, Get<std::string>(p, "name", path + ": expr.params"));
      MOESWEEP_ASSIGN_OR_RETURN(
          param.lower, Get<double>(p, "lower", path + ": expr.params"));
      MOESWEEP_ASSIGN_OR_RETURN(
          param.upper, Get<double>(p, "upper", path + ": expr.params"));
      MOESWEEP_ASSIGN_OR_RETURN(
          param.starts,
          Get<std::vector<double>>(p, "starts", path + ": expr.params"));
      file.law.expr.params.push_back(param);
    }
  }
  StatusOr<std::vector<std::string>> names = fitter::ThetaNames(file.law);
  if (!names.ok())
    return InvalidArgumentError(path + ": " +
                                std::string(names.status().message()));
  MOESWEEP_ASSIGN_OR_RETURN(Json theta, Get<Json>(j, "theta", path));
  for (const std::string& name : *names) {
    MOESWEEP_ASSIGN_OR_RETURN(double v,
                              Get<double>(theta, name, path + ": theta"));
    if (!std::isfinite(v))
      return InvalidArgumentError(path + ": theta." + name + " is not finite");
    file.law.theta.push_back(v);
  }
  if (theta.size() != names->size()) {
    return InvalidArgumentError(path + ": theta has " +
                                std::to_string(theta.size()) +
                                " values; law '" + file.law.family + "' has " +
                                std::to_string(names->size()));
  }
  MOESWEEP_ASSIGN_OR_RETURN(file.huber_delta,
                            Get<double>(j, "huber_delta", path));
  if (j.contains("objective")) {
    MOESWEEP_ASSIGN_OR_RETURN(file.objective,
                              Get<double>(j, "objective", path));
  }
  if (j.contains("runs")) {
    MOESWEEP_ASSIGN_OR_RETURN(file.runs, Get<int>(j, "runs", path));
  }
  if (j.contains("covariance")) {
    MOESWEEP_ASSIGN_OR_RETURN(auto rows, Get<std::vector<std::vector<double>>>(
                                             j, "covariance", path));
    const std::size_t p = names->size();
    fitter::LawUncertainty u;
    if (rows.size() != p) {
      return InvalidArgumentError(path + ": covariance must be " +
                                  std::to_string(p) + "x" + std::to_string(p));
    }
    for (const auto& row : rows) {
      if (row.size() != p) {
        return InvalidArgumentError(path + ": covariance must be " +
                                    std::to_string(p) + "x" +
                                    std::to_string(p));
      }
      u.covariance.insert(u.covariance.end(), row.begin(), row.end());
    }
    MOESWEEP_ASSIGN_OR_RETURN(u.residual_sigma,
                              Get<double>(j, "residual_sigma", path));
    file.uncertainty = u;
  }
  return file;
}

void WarnAtBound(std::string_view command, const fitter::Law& law,
                 std::ostream& err) {
  StatusOr<std::vector<fitter::ParameterAtBound>> at_bound =
      fitter::ParametersAtBound(law);
  if (!at_bound.ok()) return;  // ReadLawFile checked family and θ
  for (const fitter::ParameterAtBound& b : *at_bound) {
    err << "moesweep " << command << ": warning: " << fitter::AtBoundWarning(b)
        << "\n";
  }
}

}  // namespace moesweep::cli
