// Fuzzes fitter::ParseExpr, the `expr` law language of campaign specs and
// law files. A parsed tree must print to text that parses to the same print
// (nesting limit aside), and must evaluate without reading out of bounds.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fitter/expr_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moesweep::fitter;
  static const std::vector<std::string> kParams = {"E", "A", "alpha", "B",
                                                   "beta"};
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto tree = ParseExpr(text, kParams);
  if (!tree.ok()) return 0;
  const std::string printed = ExprToString(*tree, kParams);
  // The print parenthesises every operation, so a long flat chain (a-b-c-...)
  // may print deeper than the parser's nesting limit; nothing else may fail.
  auto again = ParseExpr(printed, kParams);
  if (!again.ok()) {
    if (again.status().message().find("nested more than") ==
        std::string_view::npos) {
      std::abort();
    }
  } else if (ExprToString(*again, kParams) != printed) {
    std::abort();
  }
  const double theta[] = {1.5, 400, 0.34, 410, 0.28};
  double features[kNumFeatures];
  for (int i = 0; i < kNumFeatures; ++i) features[i] = 1e3 * (i + 1);
  (void)EvalExpr(*tree, theta, features);
  return 0;
}
