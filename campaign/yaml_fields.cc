#include "campaign/yaml_fields.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "campaign/campaign.h"

namespace moesweep::campaign {
namespace {

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

Status Expected(const YAML::Node& node, const std::string& path,
                std::string_view what) {
  if (!node.IsDefined()) return InvalidArgumentError(path + ": required");
  return InvalidArgumentError(path + ": expected " + std::string(what) +
                              ", got " + Describe(node));
}

}  // namespace

std::string ChildPath(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

std::string IndexPath(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string Describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return "'" + node.Scalar() + "'";
}

std::string_view NearestKey(std::string_view key,
                            std::initializer_list<std::string_view> known) {
  std::string_view best;
  std::size_t best_distance = 3;  // a plausible typo is at most 2 edits
  for (std::string_view candidate : known) {
    const std::size_t d = EditDistance(key, candidate);
    if (d < best_distance && 2 * d <= key.size()) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

StatusOr<MapFields> MapFields::Open(
    const YAML::Node& node, std::string path,
    std::initializer_list<std::string_view> known) {
  const std::string where = path.empty() ? "campaign" : path;
  if (!node.IsDefined() || node.IsNull()) return MapFields(node, path);
  if (!node.IsMap()) return Expected(node, where, "a map");
  MapFields fields(node, path);
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return InvalidArgumentError(where + ": keys must be names, got " +
                                  Describe(entry.first));
    }
    const std::string key = entry.first.Scalar();
    const std::string key_path = ChildPath(path, key);
    if (known.size() > 0 &&
        std::find(known.begin(), known.end(), key) == known.end()) {
      const std::string_view nearest = NearestKey(key, known);
      return InvalidArgumentError(
          key_path + ": unknown key" +
          (nearest.empty() ? ""
                           : " (did you mean " + std::string(nearest) + "?)"));
    }
    if (std::find(fields.keys_.begin(), fields.keys_.end(), key) !=
        fields.keys_.end()) {
      return InvalidArgumentError(key_path + ": given twice");
    }
    fields.keys_.push_back(key);
  }
  return fields;
}

YAML::Node MapFields::Get(std::string_view key) const {
  if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  // A null value (`key:` or `key: ~`) reads as absent.
  for (const auto& entry : node_) {
    if (entry.first.Scalar() == key) {
      if (entry.second.IsNull()) break;
      return entry.second;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string MapFields::PathOf(std::string_view key) const {
  return ChildPath(path_, key);
}

StatusOr<double> ReadNumber(const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || !node.IsScalar())
    return Expected(node, path, "a number");
  double value = 0;
  try {
    value = node.as<double>();
  } catch (const YAML::Exception&) {
    return Expected(node, path, "a number");
  }
  if (!std::isfinite(value)) return Expected(node, path, "a finite number");
  return value;
}

StatusOr<std::int64_t> ReadInteger(const YAML::Node& node,
                                   const std::string& path) {
  if (!node.IsDefined() || !node.IsScalar())
    return Expected(node, path, "an integer");
  const std::string& text = node.Scalar();
  std::int64_t value = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc() && end == text.data() + text.size()) return value;
  // "2e3" and "64.0" are integers written as numbers.
  const StatusOr<double> number = ReadNumber(node, path);
  if (!number.ok() || *number != std::floor(*number) ||
      std::abs(*number) >= 9.2e18) {
    return Expected(node, path, "an integer");
  }
  return static_cast<std::int64_t>(*number);
}

StatusOr<std::uint64_t> ReadUnsigned(const YAML::Node& node,
                                     const std::string& path) {
  if (!node.IsDefined() || !node.IsScalar())
    return Expected(node, path, "an integer >= 0");
  const std::string& text = node.Scalar();
  std::uint64_t value = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    return Expected(node, path, "an integer >= 0");
  return value;
}

StatusOr<bool> ReadBool(const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || !node.IsScalar())
    return Expected(node, path, "true or false");
  try {
    return node.as<bool>();
  } catch (const YAML::Exception&) {
    return Expected(node, path, "true or false");
  }
}

StatusOr<std::string> ReadString(const YAML::Node& node,
                                 const std::string& path) {
  if (!node.IsDefined() || !node.IsScalar())
    return Expected(node, path, "a string");
  return node.Scalar();
}

StatusOr<std::vector<double>> ReadNumberList(const YAML::Node& node,
                                             const std::string& path) {
  if (!node.IsDefined() || !node.IsSequence())
    return Expected(node, path, "a list of numbers");
  if (node.size() == 0)
    return InvalidArgumentError(path + ": must be a non-empty list, got []");
  if (node.size() > kMaxListEntries) {
    return InvalidArgumentError(path + ": " + std::to_string(node.size()) +
                                " entries, above the limit of " +
                                std::to_string(kMaxListEntries));
  }
  std::vector<double> values;
  for (std::size_t i = 0; i < node.size(); ++i) {
    MOESWEEP_ASSIGN_OR_RETURN(double v,
                              ReadNumber(node[i], IndexPath(path, i)));
    values.push_back(v);
  }
  return values;
}

}  // namespace moesweep::campaign
