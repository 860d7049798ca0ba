// Reading tables of runs from CSV files (RFC 4180: a header row, commas,
// "quoted" fields).

#ifndef MOESWEEP_CLI_CSV_TABLE_H_
#define MOESWEEP_CLI_CSV_TABLE_H_

#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "fitter/fitter.h"

namespace moesweep::cli {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each has header.size() fields
  std::vector<int> lines;  // the file line each row starts on (1 = header)
};

// Reads and splits `path`. NOT_FOUND when it cannot be opened;
// INVALID_ARGUMENT, naming the file and line, for an empty file, an
// unterminated quote, a duplicate header name, or a row whose field count
// differs from the header's.
StatusOr<CsvTable> ReadCsv(const std::string& path);

// Which CSV column holds each feature a family reads: logical name ("N", "D",
// "loss") -> header. Names not in the map are looked up as themselves.
using ColumnMap = std::map<std::string, std::string>;

// Parses "N=Model Size" into the map. INVALID_ARGUMENT when there is no '=' or
// a side is empty.
Status AddColumnMapping(const std::string& spec, ColumnMap* map);

// The runs of a table: the loss and each of `features`, other columns
// ignored. A feature's column is the one mapped to it (--column params=...),
// else the one named after it ("params", "tokens", ...), else its short alias
// (N for params, D for tokens). INVALID_ARGUMENT naming file, line and column
// for a missing column or a value that is not a finite number > 0 (>= 0 for
// num_shared and shared_ratio). A trials export of `moesweep campaign export`
// (trial_id and final_eval_loss columns) is read as it is: loss is
// final_eval_loss unless mapped, and rows without a loss or marked
// validation are skipped, leaving the runs the campaign fitted.
StatusOr<std::vector<fitter::Observation>> ReadRuns(
    const CsvTable& table, const ColumnMap& columns,
    std::span<const fitter::Feature> features);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_CSV_TABLE_H_
