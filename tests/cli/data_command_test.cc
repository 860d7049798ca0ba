#include <gtest/gtest.h>

#include <sstream>

#include "cli/commands.h"
#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace moesweep::cli {
namespace {

TEST(DataCommandTest, PreparesShardsFromText) {
  testing::TempDir dir;
  std::string text = dir.Write("a.txt", std::string(90, 'x') + "0123456789");
  std::ostringstream out, err;
  DataCommandOptions o{{text}, dir.File("data"), 0.1};
  ASSERT_EQ(RunDataCommand(o, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("90 training and 10 held-out tokens"),
            std::string::npos)
      << out.str();
  StatusOr<worker::TokenShard> val =
      worker::ReadTokenShard(dir.File("data/val.bin"));
  ASSERT_TRUE(val.ok());
  EXPECT_EQ(val->tokens, worker::ByteTokenize("0123456789"));
}

TEST(DataCommandTest, MissingInputExitsTwoNamingTheFile) {
  testing::TempDir dir;
  std::ostringstream out, err;
  DataCommandOptions o{{dir.File("nope.txt")}, dir.File("data"), 0.1};
  EXPECT_EQ(RunDataCommand(o, out, err), 2);
  EXPECT_NE(err.str().find("nope.txt"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace moesweep::cli
