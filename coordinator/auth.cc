// Tokens files and the per-call token check.

#include "coordinator/auth.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <set>
#include <sstream>

namespace moesweep::coordinator {
namespace {

// Compares without an early exit, so timing does not leak a token prefix.
bool SameToken(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

StatusOr<Role> RoleFromName(std::string_view name) {
  if (name == "admin") return Role::kAdmin;
  if (name == "worker") return Role::kWorker;
  if (name == "viewer") return Role::kViewer;
  return InvalidArgumentError("role must be admin, worker or viewer, got '" +
                              std::string(name) + "'");
}

bool Allows(Role have, Role needed) {
  return have == needed || (have == Role::kAdmin && needed == Role::kViewer);
}

std::string NewToken() {
  std::random_device rd;
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string token;
  for (int i = 0; i < 40; ++i) token.push_back(kAlphabet[rd() % 62]);
  return token;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kWorker:
      return "worker";
    case Role::kViewer:
      return "viewer";
  }
  return "viewer";
}

StatusOr<std::vector<Credential>> ReadTokensFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError(path + ": cannot read the tokens file");
  std::vector<Credential> out;
  std::set<std::string> seen;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string where = path + ":" + std::to_string(number) + ": ";
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string role, token, extra;
    if (!(fields >> role)) continue;  // blank or comment
    if (!(fields >> token) || (fields >> extra)) {
      return InvalidArgumentError(where + "expected '<role> <token>'");
    }
    StatusOr<Role> r = RoleFromName(role);
    if (!r.ok())
      return InvalidArgumentError(where + std::string(r.status().message()));
    if (token.size() < 16 || token.size() > 256) {
      return InvalidArgumentError(where +
                                  "a token must have 16 to 256 characters");
    }
    for (char c : token) {
      if (c < 0x21 || c > 0x7e) {
        return InvalidArgumentError(where + "a token must be printable ASCII");
      }
    }
    if (!seen.insert(token).second) {
      return InvalidArgumentError(where + "token listed twice");
    }
    out.push_back(Credential{token, *r});
  }
  if (out.empty()) return InvalidArgumentError(path + ": no tokens");
  return out;
}

StatusOr<std::vector<Credential>> WriteNewTokensFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return AlreadyExistsError(path + ": already exists");
    return UnavailableError(path + ": cannot create the tokens file");
  }
  std::vector<Credential> out = {{NewToken(), Role::kAdmin},
                                 {NewToken(), Role::kWorker},
                                 {NewToken(), Role::kViewer}};
  std::string text =
      "# moesweep coordinator tokens: <role> <token>. Keep this file "
      "private.\n";
  for (const Credential& c : out) {
    text += std::string(RoleName(c.role)) + " " + c.token + "\n";
  }
  const bool ok = ::write(fd, text.data(), text.size()) ==
                      static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return UnavailableError(path + ": cannot write the tokens file");
  return out;
}

TokenTable::TokenTable(std::vector<Credential> credentials)
    : credentials_(std::move(credentials)) {}

Status TokenTable::Check(const grpc::ServerContextBase& context,
                         Role needed) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return UnauthenticatedError("missing 'authorization: Bearer <token>'");
  }
  const std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (value.substr(0, kBearer.size()) != kBearer) {
    return UnauthenticatedError("authorization is not a Bearer token");
  }
  const std::string_view token = value.substr(kBearer.size());
  for (const Credential& c : credentials_) {
    if (!SameToken(c.token, token)) continue;
    if (Allows(c.role, needed)) return OkStatus();
    return PermissionDeniedError("a " + std::string(RoleName(c.role)) +
                                 " token may not call this; it needs " +
                                 std::string(RoleName(needed)));
  }
  return UnauthenticatedError("unknown token");
}

}  // namespace moesweep::coordinator
