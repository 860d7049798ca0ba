#include <gtest/gtest.h>

#include <sstream>

#include "cli/commands.h"
#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace moesweep::cli {
namespace {

TEST(DataCommandTest, PreparesShardsHoldingOutWholeFortunes) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 20; ++i) {
    text += "Fortune number " + std::to_string(100 + i) + ".\n%\n";
  }
  std::string path = dir.Write("quotes", text);
  std::ostringstream out, err;
  DataCommandOptions o{{"fortune:" + path}, dir.File("data"), 0.1};
  ASSERT_EQ(RunDataCommand(o, out, err), 0) << err.str();
  // 20 fortunes of 22 bytes. Each next one is held out while the held-out
  // share is under 10%: the 2nd, then the 12th.
  EXPECT_NE(out.str().find("wrote 396 training and 44 held-out tokens"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("18 and 2 documents from 1 files"),
            std::string::npos)
      << out.str();
  StatusOr<worker::TokenShard> val =
      worker::ReadTokenShard(dir.File("data/val.bin"));
  ASSERT_TRUE(val.ok());
  EXPECT_EQ(val->tokens, worker::ByteTokenize("Fortune number 101.\n%\n"
                                              "Fortune number 111.\n%\n"));
  out.str("");
  ASSERT_EQ(RunDataCommand(o, out, err), 0) << err.str();
  EXPECT_EQ(out.str().rfind("reused 396 training and 44 held-out tokens", 0),
            0u)
      << out.str();
}

TEST(DataCommandTest, MissingInputExitsTwoNamingTheFile) {
  testing::TempDir dir;
  std::ostringstream out, err;
  DataCommandOptions o{{dir.File("nope.txt")}, dir.File("data"), 0.1};
  EXPECT_EQ(RunDataCommand(o, out, err), 2);
  EXPECT_NE(err.str().find("nope.txt"), std::string::npos) << err.str();
}

TEST(DataCommandTest, NoInputOrAnUnknownCorpusExitsTwo) {
  testing::TempDir dir;
  std::ostringstream out, err;
  EXPECT_EQ(RunDataCommand({{}, dir.File("data"), 0.1}, out, err), 2);
  EXPECT_NE(err.str().find("--corpus or --input"), std::string::npos);
  DataCommandOptions o{{}, dir.File("data"), 0.1, "klingon"};
  EXPECT_EQ(RunDataCommand(o, out, err), 2);
  EXPECT_NE(err.str().find("unknown corpus 'klingon'"), std::string::npos)
      << err.str();
}

// The real Debian corpus (scripts/setup installs it): prepared once, then
// reused.
TEST(DataCommandTest, DebianEnglishCorpusIsPreparedThenReused) {
  testing::TempDir dir;
  std::ostringstream out, err;
  DataCommandOptions o{{}, dir.File("data"), 0.05, "debian-en"};
  ASSERT_EQ(RunDataCommand(o, out, err), 0) << err.str();
  EXPECT_EQ(out.str().rfind("wrote ", 0), 0u) << out.str();
  EXPECT_NE(out.str().find("from 508 files"), std::string::npos) << out.str();
  out.str("");
  ASSERT_EQ(RunDataCommand(o, out, err), 0) << err.str();
  EXPECT_EQ(out.str().rfind("reused ", 0), 0u) << out.str();
}

}  // namespace
}  // namespace moesweep::cli
