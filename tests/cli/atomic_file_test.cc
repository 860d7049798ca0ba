#include "cli/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::cli {
namespace {

TEST(AtomicFileTest, ReplacesContentsAndLeavesNoTemporaryFile) {
  testing::TempDir dir;
  const std::string path = dir.Write("law.json", "old");
  ASSERT_OK(WriteFileAtomically(path, "new contents"));
  EXPECT_EQ(testing::ReadFile(path), "new contents");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(AtomicFileTest, MissingFolderIsAnErrorNamingThePath) {
  testing::TempDir dir;
  const std::string path = dir.File("no/such/law.json");
  Status s = WriteFileAtomically(path, "x");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(path), std::string_view::npos);
}

}  // namespace
}  // namespace moesweep::cli
