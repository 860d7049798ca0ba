#include "worker/data/document_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace moesweep::worker {
namespace {

// The documents `text` divides into, fed one byte at a time.
std::vector<std::string> Documents(DocumentFormat format,
                                   const std::string& text) {
  DocumentSplitter splitter(format);
  std::vector<std::string> documents;
  for (char c : text) {
    if (splitter.Begins(c)) documents.emplace_back();
    documents.back() += c;
  }
  return documents;
}

using Docs = std::vector<std::string>;

TEST(DocumentSplitterTest, FortunesEndAtAPercentLine) {
  EXPECT_EQ(Documents(DocumentFormat::kFortune,
                      "One.\n%\nTwo,\n  -- 50% off\n%\n%x\nThree.\n"),
            (Docs{"One.\n%\n", "Two,\n  -- 50% off\n%\n", "%x\nThree.\n"}));
}

TEST(DocumentSplitterTest, DictionaryEntriesBeginInTheFirstColumn) {
  EXPECT_EQ(
      Documents(DocumentFormat::kDictionary,
                "Abbey \\Ab\"bey\\ n.\n   1. A monastery.\n\n   Syn: priory\n"
                "\nAbbot\n   n 1: the head of an abbey\n"),
      (Docs{"Abbey \\Ab\"bey\\ n.\n   1. A monastery.\n\n   Syn: priory\n\n",
            "Abbot\n   n 1: the head of an abbey\n"}));
}

TEST(DocumentSplitterTest, TextParagraphsEndAfterBlankLines) {
  EXPECT_EQ(Documents(DocumentFormat::kText, "a b\nc\n\n\nd\n\ne"),
            (Docs{"a b\nc\n\n\n", "d\n\n", "e"}));
}

TEST(DocumentSplitterTest, TextWithoutBlankLinesIsCutEveryKibibyte) {
  std::string text(2 * kMaxTextDocumentBytes + 10, 'x');
  Docs docs = Documents(DocumentFormat::kText, text);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].size(), size_t(kMaxTextDocumentBytes));
  EXPECT_EQ(docs[2].size(), 10u);
}

TEST(DocumentSplitterTest, AFileIsOneDocument) {
  EXPECT_EQ(Documents(DocumentFormat::kFile, "Title\n=====\n\nText.\n%\n"),
            (Docs{"Title\n=====\n\nText.\n%\n"}));
}

TEST(DocumentSplitterTest, FormatNamesRoundTrip) {
  for (DocumentFormat f :
       {DocumentFormat::kText, DocumentFormat::kFile, DocumentFormat::kFortune,
        DocumentFormat::kDictionary}) {
    StatusOr<DocumentFormat> back = ParseDocumentFormat(DocumentFormatName(f));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, f);
  }
  EXPECT_EQ(ParseDocumentFormat("bible").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::worker
