#include "cli/read_file.h"

#include <fstream>
#include <sstream>

namespace moesweep::cli {

StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace moesweep::cli
