// TextTable: rows printed as aligned columns under an upper-case header, as
// kubectl and ray print lists for a person at a terminal (--json gives the
// full record instead).

#ifndef MOESWEEP_CLI_TEXT_TABLE_H_
#define MOESWEEP_CLI_TEXT_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace moesweep::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);
  // A row with fewer cells than the header is padded with empty ones.
  void Add(std::vector<std::string> row);
  size_t rows() const { return rows_.size(); }
  // Two spaces between columns; no trailing spaces.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Numbers as a person reads them: `Sig(1234.5678, 4)` is "1235",
// `Sig(2.5e19, 3)` is "2.5e+19" (%g with `digits` significant digits).
std::string Sig(double v, int digits = 4);
// `Percent(0.0512)` is "5.1%".
std::string Percent(double fraction);
// Seconds as "45s", "12m", "3.5h".
std::string Duration(double seconds);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_TEXT_TABLE_H_
