#include "cli/csv_table.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace moesweep::cli {
namespace {

std::string Where(const std::string& path, int line) {
  return path + ":" + std::to_string(line) + ": ";
}

// Splits CSV text into records. Quoted fields may hold commas, doubled quotes
// and newlines.
Status SplitRecords(const std::string& path, const std::string& text,
                    std::vector<std::vector<std::string>>* records,
                    std::vector<int>* lines) {
  std::vector<std::string> record;
  std::string field;
  bool in_quotes = false, field_started = false;
  int line = 1, record_line = 1;
  auto end_record = [&] {
    record.push_back(field);
    bool blank = record.size() == 1 && record[0].empty() && !field_started;
    if (!blank) {
      records->push_back(record);
      lines->push_back(record_line);
    }
    record.clear();
    field.clear();
    field_started = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"') {
      in_quotes = true;
      field_started = true;
    } else if (c == ',') {
      record.push_back(field);
      field.clear();
      field_started = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      record_line = ++line;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (in_quotes)
    return InvalidArgumentError(Where(path, record_line) +
                                "unterminated quote");
  if (field_started || !field.empty() || !record.empty()) end_record();
  return OkStatus();
}

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

StatusOr<CsvTable> ReadCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return InvalidArgumentError(path + ": read error");

  std::vector<std::vector<std::string>> records;
  std::vector<int> lines;
  MOESWEEP_RETURN_IF_ERROR(SplitRecords(path, buffer.str(), &records, &lines));
  if (records.empty())
    return InvalidArgumentError(path + ": empty file, expected a header row");

  CsvTable table;
  table.path = path;
  for (const std::string& name : records[0]) {
    std::string trimmed = Trim(name);
    for (const std::string& seen : table.header) {
      if (seen == trimmed) {
        return InvalidArgumentError(Where(path, 1) + "column '" + trimmed +
                                    "' appears twice");
      }
    }
    table.header.push_back(trimmed);
  }
  for (std::size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != table.header.size()) {
      return InvalidArgumentError(Where(path, lines[r]) + "expected " +
                                  std::to_string(table.header.size()) +
                                  " fields, got " +
                                  std::to_string(records[r].size()));
    }
    table.rows.push_back(std::move(records[r]));
    table.lines.push_back(lines[r]);
  }
  return table;
}

Status AddColumnMapping(const std::string& spec, ColumnMap* map) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    return InvalidArgumentError("--column expects NAME=CSV_HEADER, got '" +
                                spec + "'");
  }
  (*map)[Trim(spec.substr(0, eq))] = Trim(spec.substr(eq + 1));
  return OkStatus();
}

StatusOr<std::vector<fitter::Observation>> ReadChinchillaRuns(
    const CsvTable& table, const ColumnMap& columns) {
  const char* const kNeeded[] = {"N", "D", "loss"};
  std::size_t index[3];
  for (int k = 0; k < 3; ++k) {
    const auto mapped = columns.find(kNeeded[k]);
    const std::string header =
        mapped == columns.end() ? kNeeded[k] : mapped->second;
    std::size_t i = 0;
    while (i < table.header.size() && table.header[i] != header) ++i;
    if (i == table.header.size()) {
      std::string msg =
          Where(table.path, 1) + "missing column '" + header + "'";
      if (mapped == columns.end())
        msg +=
            " (map another with --column " + std::string(kNeeded[k]) + "=NAME)";
      return InvalidArgumentError(msg);
    }
    index[k] = i;
  }
  std::vector<fitter::Observation> runs;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    double value[3];
    for (int k = 0; k < 3; ++k) {
      const std::string text = Trim(table.rows[r][index[k]]);
      const std::string where = Where(table.path, table.lines[r]) + "column '" +
                                table.header[index[k]] + "': ";
      char* end = nullptr;
      errno = 0;
      value[k] = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() ||
          errno == ERANGE || !std::isfinite(value[k])) {
        return InvalidArgumentError(where + "not a finite number: '" + text +
                                    "'");
      }
      if (!(value[k] > 0)) {
        return InvalidArgumentError(where + "must be > 0, got " + text);
      }
    }
    runs.push_back({.params = value[0], .tokens = value[1], .loss = value[2]});
  }
  return runs;
}

}  // namespace moesweep::cli
