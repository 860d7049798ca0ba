// Internal: reading YAML values together with their path in the spec, so that
// every error names where it is ("space.experts[2]: expected a number, got
// 'eight'"). yaml-cpp's exceptions stop here (STYLE.md H3).

#ifndef MOESWEEP_CAMPAIGN_YAML_FIELDS_H_
#define MOESWEEP_CAMPAIGN_YAML_FIELDS_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace moesweep::campaign {

// "space" + "experts" -> "space.experts"; "" + "law" -> "law".
std::string ChildPath(std::string_view path, std::string_view key);
// "space.experts" + 2 -> "space.experts[2]".
std::string IndexPath(std::string_view path, std::size_t index);

// What a node is, for "expected a map, got a list": "a list", "a map",
// "null", or the scalar quoted ('abc').
std::string Describe(const YAML::Node& node);

// The known key nearest `key` by edit distance when it is a plausible typo
// (at most 2 edits, at most half its length); empty otherwise.
std::string_view NearestKey(std::string_view key,
                            std::initializer_list<std::string_view> known);

// The entries of one YAML map, checked once for unknown and repeated keys.
// An absent or null node (an empty `key:`) reads as an empty map; callers
// check required sections with Has() first. Not thread-safe.
class MapFields {
 public:
  // INVALID_ARGUMENT unless `node` is a map whose keys are scalars, each once,
  // and each in `known` (any key when `known` is empty).
  static StatusOr<MapFields> Open(
      const YAML::Node& node, std::string path,
      std::initializer_list<std::string_view> known);

  // The value of `key`; an undefined node when it is absent or null.
  YAML::Node Get(std::string_view key) const;
  bool Has(std::string_view key) const { return Get(key).IsDefined(); }
  std::string PathOf(std::string_view key) const;
  const std::string& path() const { return path_; }
  // Keys in document order.
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  MapFields(YAML::Node node, std::string path)
      : node_(std::move(node)), path_(std::move(path)) {}

  YAML::Node node_;
  std::string path_;
  std::vector<std::string> keys_;
};

// Typed scalars. INVALID_ARGUMENT "<path>: expected ..., got ..." for a value
// of another type; "<path>: required" for an undefined node.
StatusOr<double> ReadNumber(const YAML::Node& node, const std::string& path);
StatusOr<std::int64_t> ReadInteger(const YAML::Node& node,
                                   const std::string& path);
StatusOr<std::uint64_t> ReadUnsigned(const YAML::Node& node,
                                     const std::string& path);
StatusOr<bool> ReadBool(const YAML::Node& node, const std::string& path);
StatusOr<std::string> ReadString(const YAML::Node& node,
                                 const std::string& path);
// A non-empty list of numbers.
StatusOr<std::vector<double>> ReadNumberList(const YAML::Node& node,
                                             const std::string& path);

// `*out = read(fields.Get(key), fields.PathOf(key))` when `key` is present;
// otherwise `*out` keeps its value. T may be a std::optional.
template <typename T, typename Reader>
Status ReadIfPresent(const MapFields& fields, std::string_view key, Reader read,
                     T* out) {
  if (!fields.Has(key)) return OkStatus();
  MOESWEEP_ASSIGN_OR_RETURN(*out, read(fields.Get(key), fields.PathOf(key)));
  return OkStatus();
}

}  // namespace moesweep::campaign

#endif  // MOESWEEP_CAMPAIGN_YAML_FIELDS_H_
