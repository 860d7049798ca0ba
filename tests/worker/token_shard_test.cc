#include <gtest/gtest.h>

#include <fstream>

#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace moesweep::worker {
namespace {

TEST(TokenShardTest, RoundTrips) {
  testing::TempDir dir;
  TokenShard s{300, {0, 299, 7, 256}};
  ASSERT_TRUE(WriteTokenShard(dir.File("a.bin"), s).ok());
  StatusOr<TokenShard> back = ReadTokenShard(dir.File("a.bin"));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->vocab_size, 300);
  EXPECT_EQ(back->tokens, s.tokens);
  // 24-byte header plus two bytes a token.
  EXPECT_EQ(testing::ReadFile(dir.File("a.bin")).size(), 24u + 8u);
}

TEST(TokenShardTest, RefusesCorruptFiles) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteTokenShard(dir.File("a.bin"), {256, {1, 2, 3}}).ok());
  std::string good = testing::ReadFile(dir.File("a.bin"));
  std::string bad_magic = good, bad_version = good, truncated = good;
  bad_magic[0] = 'X';
  bad_version[8] = 2;
  truncated.pop_back();
  for (const std::string& bytes : {bad_magic, bad_version, truncated}) {
    dir.Write("bad.bin", bytes);
    EXPECT_EQ(ReadTokenShard(dir.File("bad.bin")).status().code(),
              StatusCode::kDataLoss);
  }
  std::string out_of_vocab = good;
  out_of_vocab[24 + 1] = 1;  // token 1 becomes 257
  dir.Write("bad.bin", out_of_vocab);
  EXPECT_EQ(ReadTokenShard(dir.File("bad.bin")).status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(ReadTokenShard(dir.File("none.bin")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(WriteTokenShard(dir.File("c.bin"), {4, {4}}).code(),
            StatusCode::kInvalidArgument);
}

TEST(TokenShardTest, ByteTokenizerIsOneTokenPerByte) {
  EXPECT_EQ(ByteTokenize("Ab\xff"), (std::vector<uint16_t>{65, 98, 255}));
}

}  // namespace
}  // namespace moesweep::worker
