#include "cli/csv_table.h"

#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::cli {
namespace {

constexpr fitter::Feature kChinchilla[] = {fitter::Feature::kParams,
                                           fitter::Feature::kTokens};

TEST(CsvTableTest, ReadsQuotedFieldsAndCrlf) {
  testing::TempDir dir;
  const std::string path =
      dir.Write("runs.csv",
                "name,\"Model Size\",D,loss\r\n\"a, b\",1e8,2e9,3.5\r\n\"say "
                "\"\"hi\"\"\",2e8,4e9,3.1\r\n\r\n");
  StatusOr<CsvTable> table = ReadCsv(path);
  ASSERT_OK(table);
  ASSERT_EQ(table->header.size(), 4u);
  EXPECT_EQ(table->header[1], "Model Size");
  ASSERT_EQ(table->rows.size(), 2u);
  EXPECT_EQ(table->rows[0][0], "a, b");
  EXPECT_EQ(table->rows[1][0], "say \"hi\"");
  EXPECT_EQ(table->lines[1], 3);
}

TEST(CsvTableTest, MapsColumnsAndIgnoresOthers) {
  testing::TempDir dir;
  const std::string path =
      dir.Write("runs.csv", "Model Size,tokens,loss,notes\n1e8,2e9,3.5,x\n");
  StatusOr<CsvTable> table = ReadCsv(path);
  ASSERT_OK(table);
  ColumnMap columns;
  ASSERT_OK(AddColumnMapping("N=Model Size", &columns));
  ASSERT_OK(AddColumnMapping("D = tokens", &columns));
  StatusOr<std::vector<fitter::Observation>> runs =
      ReadRuns(*table, columns, kChinchilla);
  ASSERT_OK(runs);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].params, 1e8);
  EXPECT_EQ((*runs)[0].tokens, 2e9);
  EXPECT_EQ((*runs)[0].loss, 3.5);
}

// A trials export reads as it is: its loss column, and only the runs the
// campaign fitted (not a failed run, not a validation run).
TEST(CsvTableTest, ReadsATrialsExportAsTheCampaignFittedIt) {
  testing::TempDir dir;
  const std::string path =
      dir.Write("trials.csv",
                "trial_id,state,final_eval_loss,params,tokens,validation\r\n"
                "c1-t0,TRIAL_STATE_SUCCEEDED,3.25,1e8,2e9,false\r\n"
                "c1-t1,TRIAL_STATE_FAILED,,2e8,2e9,false\r\n"
                "c1-t2,TRIAL_STATE_SUCCEEDED,2.5,4e8,8e9,true\r\n"
                "c1-t3,TRIAL_STATE_SUCCEEDED,3,2e8,4e9,false\r\n");
  StatusOr<CsvTable> table = ReadCsv(path);
  ASSERT_OK(table);
  StatusOr<std::vector<fitter::Observation>> runs =
      ReadRuns(*table, {}, kChinchilla);
  ASSERT_OK(runs);
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].loss, 3.25);
  EXPECT_EQ((*runs)[1].params, 2e8);
  EXPECT_EQ((*runs)[1].loss, 3);
  // A plain table with an empty loss is still an error.
  const std::string plain =
      dir.Write("plain.csv", "params,tokens,loss\n1e8,2e9,\n");
  StatusOr<CsvTable> plain_table = ReadCsv(plain);
  ASSERT_OK(plain_table);
  EXPECT_FALSE(ReadRuns(*plain_table, {}, kChinchilla).ok());
}

// Each bad input names the file, the line and the column.
TEST(CsvTableTest, BadValuesNameFileLineAndColumn) {
  testing::TempDir dir;
  struct Case {
    const char* text;
    const char* expected;
  } cases[] = {
      {"N,D,loss\n1e8,2e9,3\n1e8,abc,3\n",
       "runs.csv:3: column 'D': not a finite number: 'abc'"},
      {"N,D,loss\n1e8,2e9,-3\n",
       "runs.csv:2: column 'loss': must be > 0, got -3"},
      {"N,D,loss\n0,2e9,3\n", "runs.csv:2: column 'N': must be > 0"},
      {"N,D,loss\n1e8,2e9,\n",
       "runs.csv:2: column 'loss': not a finite number: ''"},
      {"N,D,loss\n1e8,2e9,inf\n",
       "runs.csv:2: column 'loss': not a finite number"},
      {"N,D,loss\n1e8,2e9,3x\n",
       "runs.csv:2: column 'loss': not a finite number: '3x'"},
      {"N,D\n1e8,2e9\n", "runs.csv:1: missing column 'loss'"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.Write("runs.csv", c.text);
    StatusOr<CsvTable> table = ReadCsv(path);
    ASSERT_OK(table);
    StatusOr<std::vector<fitter::Observation>> runs =
        ReadRuns(*table, {}, kChinchilla);
    EXPECT_EQ(runs.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(runs.status().message().find(c.expected), std::string_view::npos)
        << runs.status().message();
  }
}

TEST(CsvTableTest, BadFilesAreRefused) {
  testing::TempDir dir;
  EXPECT_EQ(ReadCsv(dir.File("absent.csv")).status().code(),
            StatusCode::kNotFound);
  struct Case {
    const char* text;
    const char* expected;
  } cases[] = {
      {"", "empty file"},
      {"N,D,loss\n1e8,2e9\n", "runs.csv:2: expected 3 fields, got 2"},
      {"N,D,loss\n1e8,\"2e9,3\n", "runs.csv:2: unterminated quote"},
      {"N,N,loss\n", "runs.csv:1: column 'N' appears twice"},
  };
  for (const Case& c : cases) {
    StatusOr<CsvTable> table = ReadCsv(dir.Write("runs.csv", c.text));
    EXPECT_EQ(table.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(table.status().message().find(c.expected), std::string_view::npos)
        << table.status().message();
  }
}

TEST(CsvTableTest, RefusesMalformedColumnMappings) {
  ColumnMap columns;
  EXPECT_EQ(AddColumnMapping("N", &columns).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(AddColumnMapping("=x", &columns).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(AddColumnMapping("N=", &columns).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::cli
