#include <gtest/gtest.h>

#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace moesweep::worker {
namespace {

TEST(PrepareTest, SplitsTheTailOffAsHeldOut) {
  testing::TempDir dir;
  std::string a = dir.Write("a.txt", std::string(60, 'a'));
  std::string b = dir.Write("b.txt", std::string(40, 'b'));
  PrepareOptions o{{a, b}, dir.File("out"), 0.25};
  StatusOr<PrepareReport> r = PrepareData(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->train_tokens, 75);
  EXPECT_EQ(r->val_tokens, 25);
  StatusOr<TokenShard> val = ReadTokenShard(dir.File("out/val.bin"));
  ASSERT_TRUE(val.ok());
  EXPECT_EQ(val->tokens, std::vector<uint16_t>(25, 'b'));
  StatusOr<TokenShard> train = ReadTokenShard(dir.File("out/train.bin"));
  ASSERT_TRUE(train.ok());
  EXPECT_EQ(train->tokens.front(), 'a');
  EXPECT_EQ(train->tokens.back(), 'b');
}

TEST(PrepareTest, ReportsBadInputs) {
  testing::TempDir dir;
  EXPECT_EQ(PrepareData({{}, dir.File("o"), 0.1}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      PrepareData({{dir.File("none.txt")}, dir.File("o"), 0.1}).status().code(),
      StatusCode::kNotFound);
  std::string tiny = dir.Write("t.txt", "abc");
  EXPECT_EQ(PrepareData({{tiny}, dir.File("o"), 0.1}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PrepareData({{tiny}, dir.File("o"), 1.5}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::worker
