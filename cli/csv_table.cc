#include "cli/csv_table.h"

#include <algorithm>
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

namespace {

std::string_view Alias(fitter::Feature feature) {
  switch (feature) {
    case fitter::Feature::kParams:
      return "N";
    case fitter::Feature::kTokens:
      return "D";
    default:
      return "";
  }
}

// The column index of `name` (after mapping), trying `alias` last.
StatusOr<std::size_t> FindColumn(const CsvTable& table,
                                 const ColumnMap& columns,
                                 const std::string& name,
                                 std::string_view alias) {
  auto index_of = [&](const std::string& header) {
    std::size_t i = 0;
    while (i < table.header.size() && table.header[i] != header) ++i;
    return i;
  };
  std::string mapped_from = name;
  auto mapped = columns.find(name);
  if (mapped == columns.end() && !alias.empty()) {
    mapped = columns.find(std::string(alias));
    mapped_from = alias;
  }
  if (mapped != columns.end()) {
    const std::size_t i = index_of(mapped->second);
    if (i == table.header.size()) {
      return InvalidArgumentError(Where(table.path, 1) + "missing column '" +
                                  mapped->second + "' (mapped to " +
                                  mapped_from + ")");
    }
    return i;
  }
  std::size_t i = index_of(name);
  if (i == table.header.size() && !alias.empty())
    i = index_of(std::string(alias));
  if (i == table.header.size()) {
    std::string msg = Where(table.path, 1) + "missing column '" +
                      (alias.empty() ? name : std::string(alias)) + "'";
    if (!alias.empty()) msg += " (or '" + name + "')";
    return InvalidArgumentError(msg + "; map another with --column " + name +
                                "=HEADER");
  }
  return i;
}

}  // namespace

StatusOr<std::vector<fitter::Observation>> ReadRuns(
    const CsvTable& table, const ColumnMap& columns,
    std::span<const fitter::Feature> features) {
  struct Column {
    std::size_t index;
    bool is_loss;
    fitter::Feature feature;
    bool may_be_zero;
  };
  // A trials export (`moesweep campaign export`): its loss is
  // final_eval_loss, and a row without one (a run that did not succeed) or a
  // validation run (kept out of the campaign's fit) is not a run of the law.
  auto index_of = [&](const char* name) {
    return static_cast<size_t>(
        std::find(table.header.begin(), table.header.end(), name) -
        table.header.begin());
  };
  const size_t export_loss = index_of("final_eval_loss");
  const size_t export_validation = index_of("validation");
  const bool trials_export = index_of("trial_id") < table.header.size() &&
                             export_loss < table.header.size();
  ColumnMap mapped = columns;
  if (trials_export) mapped.try_emplace("loss", "final_eval_loss");
  std::vector<Column> wanted;
  for (fitter::Feature f : features) {
    MOESWEEP_ASSIGN_OR_RETURN(
        std::size_t i,
        FindColumn(table, mapped, std::string(fitter::FeatureName(f)),
                   Alias(f)));
    wanted.push_back({i, false, f,
                      f == fitter::Feature::kNumShared ||
                          f == fitter::Feature::kSharedRatio});
  }
  MOESWEEP_ASSIGN_OR_RETURN(std::size_t loss_index,
                            FindColumn(table, mapped, "loss", ""));
  wanted.push_back({loss_index, true, fitter::Feature::kParams, false});

  std::vector<fitter::Observation> runs;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    if (trials_export && (Trim(table.rows[r][export_loss]).empty() ||
                          (export_validation < table.header.size() &&
                           Trim(table.rows[r][export_validation]) == "true"))) {
      continue;
    }
    fitter::Observation run;
    for (const Column& column : wanted) {
      const std::string text = Trim(table.rows[r][column.index]);
      const std::string where = Where(table.path, table.lines[r]) + "column '" +
                                table.header[column.index] + "': ";
      char* end = nullptr;
      errno = 0;
      const double value = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() ||
          errno == ERANGE || !std::isfinite(value)) {
        return InvalidArgumentError(where + "not a finite number: '" + text +
                                    "'");
      }
      if (column.may_be_zero ? value < 0 : !(value > 0)) {
        return InvalidArgumentError(where + "must be " +
                                    (column.may_be_zero ? ">= 0" : "> 0") +
                                    ", got " + text);
      }
      if (column.is_loss) {
        run.loss = value;
      } else {
        run.Set(column.feature, value);
      }
    }
    runs.push_back(run);
  }
  return runs;
}

}  // namespace moesweep::cli
