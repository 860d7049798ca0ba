#include "cli/text_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace moesweep::cli {

TextTable::TextTable(std::vector<std::string> header)
    : header_(std::move(header)) {
  for (std::string& h : header_) {
    for (char& c : h) c = static_cast<char>(std::toupper(c));
  }
}

void TextTable::Add(std::vector<std::string> row) {
  row.resize(header_.size());
  rows_.push_back(std::move(row));
}

void TextTable::Print(std::ostream& out) const {
  std::vector<size_t> width(header_.size());
  for (size_t i = 0; i < header_.size(); ++i) width[i] = header_[i].size();
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) text.append(2, ' ');
      text += cells[i];
      if (i + 1 < cells.size()) text.append(width[i] - cells[i].size(), ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << "\n";
  };
  line(header_);
  for (const auto& row : rows_) line(row);
}

std::string Sig(double v, int digits) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*g", digits, v);
  return text;
}

std::string Percent(double fraction) {
  if (!std::isfinite(fraction)) return "-";
  char text[64];
  std::snprintf(text, sizeof(text), "%.1f%%", 100 * fraction);
  return text;
}

std::string Duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  char text[64];
  if (seconds < 90) {
    std::snprintf(text, sizeof(text), "%.0fs", seconds);
  } else if (seconds < 90 * 60) {
    std::snprintf(text, sizeof(text), "%.0fm", seconds / 60);
  } else {
    std::snprintf(text, sizeof(text), "%.1fh", seconds / 3600);
  }
  return text;
}

}  // namespace moesweep::cli
