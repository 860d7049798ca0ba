#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace moesweep::worker {
namespace {

namespace fs = std::filesystem;

// A shard's tokens as the bytes they stand for.
std::string ShardText(const std::string& path) {
  StatusOr<TokenShard> shard = ReadTokenShard(path);
  EXPECT_TRUE(shard.ok()) << shard.status().ToString();
  if (!shard.ok()) return "";
  return std::string(shard->tokens.begin(), shard->tokens.end());
}

// `count` fortunes of different lengths, each naming its number.
std::vector<std::string> Fortunes(int count) {
  std::vector<std::string> fortunes;
  for (int i = 0; i < count; ++i) {
    std::string f = "Fortune " + std::to_string(i) + " says";
    for (int w = 0; w < 5 + (i * 37) % 60; ++w)
      f += " word" + std::to_string(w);
    fortunes.push_back(f + ".\n\t-- Author " + std::to_string(i) + "\n%\n");
  }
  return fortunes;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string all;
  for (const std::string& p : parts) all += p;
  return all;
}

// Each document occurs exactly once in train and val together, whole.
void ExpectWholeDocuments(const std::vector<std::string>& documents,
                          const std::string& train, const std::string& val) {
  int held_out = 0;
  for (const std::string& doc : documents) {
    size_t in_train = train.find(doc), in_val = val.find(doc);
    EXPECT_NE(in_train == std::string::npos, in_val == std::string::npos)
        << "document in neither split or in both: " << doc;
    held_out += in_val != std::string::npos;
  }
  EXPECT_EQ(train.size() + val.size(), Join(documents).size());
  EXPECT_GE(held_out, 2);
}

TEST(PrepareTest, HoldsOutWholeFortunesSpreadThroughTheFile) {
  testing::TempDir dir;
  std::vector<std::string> fortunes = Fortunes(400);
  std::string path = dir.Write("fortunes", Join(fortunes));
  PrepareOptions o{{{path, DocumentFormat::kFortune}}, dir.File("out"), 0.1};
  StatusOr<PrepareReport> r = PrepareData(o);
  ASSERT_OK(r);
  std::string train = ShardText(dir.File("out/train.bin"));
  std::string val = ShardText(dir.File("out/val.bin"));
  ExpectWholeDocuments(fortunes, train, val);
  EXPECT_EQ(r->train_documents + r->val_documents, 400);
  EXPECT_EQ(r->train_tokens, int64_t(train.size()));
  EXPECT_EQ(r->val_tokens, int64_t(val.size()));
  double share = double(val.size()) / double(train.size() + val.size());
  EXPECT_NEAR(share, 0.1, 0.01);
  // Spread, not a tail: each quarter of the file gives held-out fortunes.
  int per_quarter[4] = {0, 0, 0, 0};
  for (int i = 0; i < 400; ++i) {
    per_quarter[i / 100] += val.find(fortunes[i]) != std::string::npos;
  }
  for (int held_out : per_quarter) EXPECT_GE(held_out, 5);
}

TEST(PrepareTest, KeepsFilesAndDictionaryEntriesWhole) {
  testing::TempDir dir;
  std::vector<std::string> pages, entries;
  fs::create_directories(dir.File("docs"));
  for (int i = 0; i < 40; ++i) {
    pages.push_back("Page " + std::to_string(i) + "\n=======\n\n" +
                    std::string(100 + 13 * i, 'p') + "\n\nEnd.\n");
    dir.Write("docs/page" + std::to_string(100 + i) + ".rst.txt", pages.back());
  }
  for (int i = 0; i < 300; ++i) {
    entries.push_back("word" + std::to_string(i) + " \\w\\ n.\n   1. " +
                      std::string(20 + i % 50, 'd') + "\n\n   Syn: x\n\n");
  }
  std::string dict = dir.Write("words.dict", Join(entries));
  PrepareOptions o{{{dir.File("docs"), DocumentFormat::kFile},
                    {dict, DocumentFormat::kDictionary}},
                   dir.File("out"),
                   0.2};
  StatusOr<PrepareReport> r = PrepareData(o);
  ASSERT_OK(r);
  EXPECT_EQ(r->files, 41);
  EXPECT_EQ(r->train_documents + r->val_documents, 340);
  std::string train = ShardText(dir.File("out/train.bin"));
  std::string val = ShardText(dir.File("out/val.bin"));
  std::vector<std::string> all = pages;
  all.insert(all.end(), entries.begin(), entries.end());
  ExpectWholeDocuments(all, train, val);
  // Each input is held out in proportion: pages and entries both.
  EXPECT_NE(val.find("\n=======\n"), std::string::npos);
  EXPECT_NE(val.find("   Syn: x"), std::string::npos);
}

TEST(PrepareTest, PlainTextWithoutParagraphsStillSplits) {
  testing::TempDir dir;
  std::string text(4000, 'a');
  PrepareOptions o{{dir.Write("a.txt", text)}, dir.File("out"), 0.1};
  StatusOr<PrepareReport> r = PrepareData(o);
  ASSERT_OK(r);
  EXPECT_EQ(r->train_tokens + r->val_tokens, 4000);
  EXPECT_EQ(r->val_documents, 1);  // 1 KiB pieces: the second is held out
  EXPECT_EQ(r->val_tokens, 1024);
}

TEST(PrepareTest, ReadsGzipAsText) {
  testing::TempDir dir;
  std::vector<std::string> fortunes = Fortunes(100);
  std::string path = dir.File("fortunes.gz");
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  std::string all = Join(fortunes);
  ASSERT_EQ(gzwrite(gz, all.data(), unsigned(all.size())), int(all.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
  PrepareOptions o{{{path, DocumentFormat::kFortune}}, dir.File("out"), 0.1};
  ASSERT_OK(PrepareData(o));
  ExpectWholeDocuments(fortunes, ShardText(dir.File("out/train.bin")),
                       ShardText(dir.File("out/val.bin")));

  // Cut short, the same file is refused, naming it.
  std::string gz_bytes = testing::ReadFile(path);
  std::string cut =
      dir.Write("cut.gz", gz_bytes.substr(0, gz_bytes.size() / 2));
  Status s =
      PrepareData({{{cut, DocumentFormat::kFortune}}, dir.File("o2"), 0.1})
          .status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("cut.gz"), std::string::npos) << s.message();
}

fs::file_time_type ModifiedAt(const std::string& path) {
  return fs::last_write_time(path);
}

TEST(PrepareTest, ASecondRunWithTheSameInputsReusesTheShards) {
  testing::TempDir dir;
  std::string path = dir.Write("f", Join(Fortunes(200)));
  PrepareOptions o{{{path, DocumentFormat::kFortune}}, dir.File("out"), 0.1};
  StatusOr<PrepareReport> first = PrepareData(o);
  ASSERT_OK(first);
  EXPECT_FALSE(first->cached);
  // Date the shards back; a redo would write them anew.
  auto past = ModifiedAt(path) - std::chrono::hours(1);
  fs::last_write_time(dir.File("out/train.bin"), past);
  fs::last_write_time(dir.File("out/val.bin"), past);
  StatusOr<PrepareReport> second = PrepareData(o);
  ASSERT_OK(second);
  EXPECT_TRUE(second->cached);
  EXPECT_EQ(second->train_tokens, first->train_tokens);
  EXPECT_EQ(second->val_tokens, first->val_tokens);
  EXPECT_EQ(second->val_documents, first->val_documents);
  EXPECT_EQ(ModifiedAt(dir.File("out/train.bin")), past);
  EXPECT_EQ(ModifiedAt(dir.File("out/val.bin")), past);
}

TEST(PrepareTest, AChangedInputOrOptionRedoesTheWork) {
  testing::TempDir dir;
  std::string path = dir.Write("f", Join(Fortunes(200)));
  fs::create_directories(dir.File("docs"));
  dir.Write("docs/a.txt", std::string(3000, 'a'));
  PrepareOptions o{{{path, DocumentFormat::kFortune}, {dir.File("docs")}},
                   dir.File("out"),
                   0.1};
  ASSERT_OK(PrepareData(o));
  auto redone = [&](const PrepareOptions& options) {
    StatusOr<PrepareReport> r = PrepareData(options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && !r->cached;
  };
  // New contents, new size.
  dir.Write("f", Join(Fortunes(150)));
  EXPECT_TRUE(redone(o));
  EXPECT_EQ(ShardText(dir.File("out/train.bin")).find("Fortune 160 "),
            std::string::npos);
  EXPECT_FALSE(redone(o));
  // Same size, later modification time.
  fs::last_write_time(path, ModifiedAt(path) + std::chrono::seconds(5));
  EXPECT_TRUE(redone(o));
  // A file added to a folder input.
  dir.Write("docs/b.txt", std::string(3000, 'b'));
  EXPECT_TRUE(redone(o));
  // Another held-out share.
  PrepareOptions other = o;
  other.val_fraction = 0.2;
  EXPECT_TRUE(redone(other));
  EXPECT_FALSE(redone(other));
  // A missing shard.
  fs::remove(dir.File("out/val.bin"));
  EXPECT_TRUE(redone(other));
  EXPECT_GT(ShardText(dir.File("out/val.bin")).size(), 0u);
}

TEST(PrepareTest, RefusesBadInputsNamingTheFileBeforeAnyWork) {
  testing::TempDir dir;
  auto refused = [&](const PrepareOptions& o, StatusCode code,
                     const std::string& named) {
    Status s = PrepareData(o).status();
    EXPECT_EQ(s.code(), code) << s.ToString();
    EXPECT_NE(s.message().find(named), std::string::npos) << s.message();
  };
  std::string good = dir.Write("good.txt", std::string(5000, 'g'));
  refused({{}, dir.File("o"), 0.1}, StatusCode::kInvalidArgument, "no inputs");
  refused({{good, dir.File("none.txt")}, dir.File("o"), 0.1},
          StatusCode::kNotFound, "none.txt");
  refused({{good}, dir.File("o"), 1.5}, StatusCode::kInvalidArgument,
          "val_fraction");
  fs::create_directories(dir.File("empty"));
  refused({{good, dir.File("empty")}, dir.File("o"), 0.1},
          StatusCode::kInvalidArgument, "empty");
  fs::create_directories(dir.File("many"));
  for (int i = 0; i < 5; ++i) {
    dir.Write("many/" + std::to_string(i) + ".txt", "text\n");
  }
  PrepareOptions few_files{{good, dir.File("many")}, dir.File("o"), 0.1};
  few_files.max_files = 4;
  refused(few_files, StatusCode::kInvalidArgument, "many");
  PrepareOptions few_bytes{{dir.File("many"), good}, dir.File("o"), 0.1};
  few_bytes.max_bytes = 4000;
  refused(few_bytes, StatusCode::kInvalidArgument, "good.txt");
  std::string binary = dir.Write("bible.data", std::string("ab\0cd", 5));
  refused({{good, binary}, dir.File("o"), 0.1}, StatusCode::kInvalidArgument,
          "bible.data");
  std::string tiny = dir.Write("t.txt", "abc");
  refused({{tiny}, dir.File("o"), 0.1}, StatusCode::kInvalidArgument,
          "too little text");
  // None of these left shards or a manifest behind.
  EXPECT_FALSE(fs::exists(dir.File("o/manifest")));
  EXPECT_FALSE(fs::exists(dir.File("o/train.bin")));
  EXPECT_FALSE(fs::exists(dir.File("o/train.bin.tmp")));
}

TEST(PrepareTest, GzipThatInflatesPastMaxBytesIsStoppedWhileReading) {
  testing::TempDir dir;
  std::string path = dir.File("bomb.gz");
  gzFile gz = gzopen(path.c_str(), "wb9");
  ASSERT_NE(gz, nullptr);
  std::string line(1000, 'z');
  for (int i = 0; i < 2000; ++i)
    gzwrite(gz, line.data(), unsigned(line.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
  PrepareOptions o{{path}, dir.File("o"), 0.1};
  o.max_bytes = 1'000'000;  // the file on disk is far smaller, its text not
  Status s = PrepareData(o).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("bomb.gz"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("max_bytes"), std::string::npos) << s.message();
}

// Kibibytes on the `field` line of /proc/self/status (VmRSS, VmHWM).
int64_t ProcStatusKib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0)
      return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

// Memory is bounded by buffers, not by the text: 48 MB of text (a small
// gzip file) raises the peak resident set by far less than the text.
TEST(PrepareTest, PeakMemoryDoesNotGrowWithTheText) {
  testing::TempDir dir;
  std::string path = dir.File("big.gz");
  gzFile gz = gzopen(path.c_str(), "wb1");
  ASSERT_NE(gz, nullptr);
  std::string paragraph;
  for (int w = 0; w < 150; ++w) paragraph += "word" + std::to_string(w) + " ";
  paragraph += "\n\n";
  const int64_t text_bytes = 48 << 20;
  for (int64_t n = 0; n < text_bytes; n += int64_t(paragraph.size())) {
    ASSERT_GT(gzwrite(gz, paragraph.data(), unsigned(paragraph.size())), 0);
  }
  ASSERT_EQ(gzclose(gz), Z_OK);
  // Resets VmHWM to the current resident set (Linux, proc(5) clear_refs).
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.close();
  ASSERT_TRUE(clear) << "cannot reset the peak RSS through /proc";
  int64_t before_kib = ProcStatusKib("VmRSS");
  ASSERT_GT(before_kib, 0);
  StatusOr<PrepareReport> r = PrepareData({{path}, dir.File("out"), 0.05});
  ASSERT_OK(r);
  EXPECT_GE(r->train_tokens + r->val_tokens, text_bytes);
  int64_t growth_kib = ProcStatusKib("VmHWM") - before_kib;
  EXPECT_LT(growth_kib, 8 * 1024) << "peak grew by " << growth_kib << " KiB";
}

}  // namespace
}  // namespace moesweep::worker
