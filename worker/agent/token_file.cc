// ReadTokenFile: the worker's bearer token from a file of one token, or from
// the coordinator's tokens file (`<role> <token>` lines; coordinator.h).

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "worker/agent/agent.h"

namespace moesweep::worker::agent {
namespace {

// The coordinator's rule for a token (coordinator::ReadTokensFile).
constexpr size_t kMinTokenChars = 16;
constexpr size_t kMaxTokenChars = 256;

std::vector<std::string> Fields(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> fields;
  std::string field;
  while (in >> field) fields.push_back(field);
  return fields;
}

// OK for 16..256 printable ASCII characters. The message never holds the
// token, only its length.
Status CheckToken(const std::string& where, const std::string& token) {
  if (token.size() < kMinTokenChars || token.size() > kMaxTokenChars) {
    return InvalidArgumentError(where +
                                ": the token must be 16..256 "
                                "characters, got " +
                                std::to_string(token.size()));
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgumentError(
          where + ": the token must be printable ASCII without spaces");
    }
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError(path + ": cannot read the token file");
  std::string line;
  int number = 0;
  bool role_format = false;
  std::string roles_seen;
  while (std::getline(in, line)) {
    ++number;
    std::vector<std::string> fields = Fields(line);
    if (fields.empty() || fields[0][0] == '#') continue;
    const std::string where = path + ":" + std::to_string(number);
    if (fields.size() > 2) {
      return InvalidArgumentError(
          where + ": expected a token, or a role and a token, got " +
          std::to_string(fields.size()) + " fields");
    }
    if (fields.size() == 1) {
      if (role_format) {
        return InvalidArgumentError(where +
                                    ": expected a role and a token, got one "
                                    "field");
      }
      MOESWEEP_RETURN_IF_ERROR(CheckToken(where, fields[0]));
      return fields[0];
    }
    role_format = true;
    // The first field is echoed only once it is known to be a role name: a
    // malformed line could start with a token.
    if (fields[0] != "admin" && fields[0] != "worker" &&
        fields[0] != "viewer") {
      return InvalidArgumentError(where +
                                  ": the role must be admin, worker or viewer");
    }
    if (fields[0] == "worker") {
      MOESWEEP_RETURN_IF_ERROR(CheckToken(where, fields[1]));
      return fields[1];
    }
    roles_seen += (roles_seen.empty() ? "" : ", ") + fields[0];
  }
  if (!role_format) return InvalidArgumentError(path + ": holds no token");
  return InvalidArgumentError(
      path + ": no 'worker' line (roles found: " + roles_seen + ")");
}

}  // namespace moesweep::worker::agent
