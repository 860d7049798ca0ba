// The named corpus "debian-en" on the real Debian files, which scripts/setup
// installs: these tests fail, not skip, where a package is missing.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace moesweep::worker {
namespace {

std::string ShardText(const std::string& path) {
  StatusOr<TokenShard> shard = ReadTokenShard(path);
  EXPECT_TRUE(shard.ok()) << shard.status().ToString();
  if (!shard.ok()) return "";
  return std::string(shard->tokens.begin(), shard->tokens.end());
}

// Pieces of `text` that each end with a line holding "%" (the last piece
// may not).
std::vector<std::string> SplitAtPercentLines(const std::string& text) {
  std::vector<std::string> pieces;
  size_t start = 0;
  for (size_t at = 0; (at = text.find("%\n", at)) != std::string::npos; ++at) {
    if (at != 0 && text[at - 1] != '\n') continue;
    pieces.push_back(text.substr(start, at + 2 - start));
    start = at + 2;
  }
  if (start < text.size()) pieces.push_back(text.substr(start));
  return pieces;
}

TEST(CorpusTest, DebianEnglishFilesAreInstalled) {
  std::vector<TextSource> corpus = DebianEnglishCorpus();
  EXPECT_EQ(corpus.size(), 12u);
  for (const TextSource& source : corpus) {
    EXPECT_TRUE(std::filesystem::exists(source.path))
        << source.path << " is missing: scripts/setup installs dict-gcide, "
        << "python3.11-doc and fortunes";
  }
  ASSERT_OK(NamedCorpus("debian-en"));
  EXPECT_EQ(NamedCorpus("debian").status().code(), StatusCode::kNotFound);
}

TEST(CorpusTest, DebianEnglishIsTensOfMegabytesHeldOutFromEverySource) {
  testing::TempDir dir;
  StatusOr<PrepareReport> r =
      PrepareData({DebianEnglishCorpus(), dir.File("out"), 0.05});
  ASSERT_OK(r);
  const int64_t tokens = r->train_tokens + r->val_tokens;
  EXPECT_GT(tokens, 45'000'000);  // 52.2 million on Debian 12
  EXPECT_LT(tokens, 60'000'000);
  EXPECT_NEAR(double(r->val_tokens) / double(tokens), 0.05, 0.005);
  EXPECT_GT(r->val_documents, 1000);
  EXPECT_GE(r->files, 500);
  std::string val = ShardText(dir.File("out/val.bin"));
  // Dictionary entries, reST pages and fortunes are all held out.
  EXPECT_NE(val.find("\n   Syn: "), std::string::npos);
  EXPECT_NE(val.find("\n.. "), std::string::npos);
  EXPECT_NE(val.find("\n%\n"), std::string::npos);
}

TEST(CorpusTest, RealFortunesGoWholeToOneSplit) {
  testing::TempDir dir;
  const std::string path = "/usr/share/games/fortunes/wisdom";
  std::string text = testing::ReadFile(path);
  ASSERT_GT(text.size(), 10000u) << path << ": install `fortunes`";
  ASSERT_OK(
      PrepareData({{{path, DocumentFormat::kFortune}}, dir.File("out"), 0.1}));
  std::vector<std::string> train =
      SplitAtPercentLines(ShardText(dir.File("out/train.bin")));
  std::vector<std::string> val =
      SplitAtPercentLines(ShardText(dir.File("out/val.bin")));
  EXPECT_GT(val.size(), 20u);
  std::vector<std::string> both = train;
  both.insert(both.end(), val.begin(), val.end());
  std::vector<std::string> source = SplitAtPercentLines(text);
  std::sort(both.begin(), both.end());
  std::sort(source.begin(), source.end());
  EXPECT_EQ(both, source);
}

}  // namespace
}  // namespace moesweep::worker
