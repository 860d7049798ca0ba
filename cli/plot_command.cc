// moesweep plot: draws with matplotlib through the Python client
// (python/moesweep/plot.py), which owns the plots and their tests; this
// verb finds that package and a Python, and forwards every argument.

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "CLI/CLI.hpp"
#include "cli/commands.h"

extern char** environ;

namespace moesweep::cli {
namespace {

constexpr size_t kMaxArgs = 256;

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

void AddPlotCommand(CLI::App* app, PlotCommandOptions* o) {
  CLI::App* cmd = app->add_subcommand(
      "plot",
      "Draw a campaign or a law file to SVG or PNG (runs with the law, "
      "isoFLOP profiles, interval width against FLOPs, out-of-sample error); "
      "`moesweep plot --help` lists the options");
  // Every argument, --help included, goes to the Python side.
  cmd->set_help_flag();
  cmd->prefix_command();
  cmd->allow_extras();
  cmd->callback([cmd, o] { o->args = cmd->remaining(); });
}

int RunPlotCommand(const PlotCommandOptions& o, std::ostream& /*out*/,
                   std::ostream& err) {
  if (o.args.size() > kMaxArgs) {
    err << "moesweep plot: INVALID_ARGUMENT: at most " << kMaxArgs
        << " arguments\n";
    return 2;
  }
  const char* python = std::getenv("MOESWEEP_PYTHON");
  const std::string interpreter =
      python != nullptr && *python != '\0' ? python : "python3";
  // The checkout's package first, so a build runs its own plots; an
  // installed package (pip install ./python) serves otherwise.
  std::string path = MOESWEEP_PYTHON_DIR;
  if (IsFile(path + "/moesweep/__main__.py")) {
    if (const char* old = std::getenv("PYTHONPATH"); old && *old) {
      path += std::string(":") + old;
    }
    setenv("PYTHONPATH", path.c_str(), 1);
  }
  std::vector<std::string> argv = {interpreter, "-m", "moesweep", "plot"};
  argv.insert(argv.end(), o.args.begin(), o.args.end());
  std::vector<char*> raw;
  for (std::string& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, interpreter.c_str(), nullptr, nullptr,
                                   raw.data(), environ);
  if (spawned != 0) {
    err << "moesweep plot: cannot run " << interpreter << ": "
        << std::strerror(spawned)
        << " (plots need Python 3 with matplotlib and grpcio: apt-get "
           "install python3-matplotlib python3-grpcio python3-protobuf; "
           "MOESWEEP_PYTHON names another interpreter)\n";
    return 1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      err << "moesweep plot: waitpid: " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  err << "moesweep plot: " << interpreter << " was killed by signal "
      << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << "\n";
  return 1;
}

}  // namespace moesweep::cli
