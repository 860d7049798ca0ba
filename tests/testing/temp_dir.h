// A fresh temporary folder per test, removed with everything in it when the
// object dies.

#ifndef MOESWEEP_TESTS_TESTING_TEMP_DIR_H_
#define MOESWEEP_TESTS_TESTING_TEMP_DIR_H_

#include <filesystem>
#include <string>

namespace moesweep::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path()/name as a string.
  std::string File(const std::string& name) const {
    return (path_ / name).string();
  }
  // Writes `contents` to path()/name and returns that path.
  std::string Write(const std::string& name, const std::string& contents) const;

 private:
  std::filesystem::path path_;
};

// Reads a whole file; "" when it does not exist.
std::string ReadFile(const std::string& path);

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_TEMP_DIR_H_
