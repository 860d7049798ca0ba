// Internal: the expression language of the `expr` family, parsed to a tree and
// evaluated for any scalar type (double, or ceres::Jet so that Ceres
// differentiates a user law automatically).
//
// Grammar (precedence from loosest to tightest; ^ is right-associative and
// binds tighter than unary minus, so -x^2 = -(x^2) and 2^-1 = 0.5):
//   expr    := term (('+' | '-') term)*
//   term    := unary (('*' | '/') unary)*
//   unary   := ('-' | '+') unary | power
//   power   := primary ('^' unary)?
//   primary := number | name | func '(' expr (',' expr)? ')' | '(' expr ')'
//   func    := log | exp (one argument) | min | max (two arguments)
//   number  := digits ['.' digits] [('e' | 'E') ['+' | '-'] digits], or
//              '.' digits [exponent]
// A name is a declared parameter or a feature (FeatureFromName). Whitespace
// separates tokens and is otherwise ignored.

#ifndef MOESWEEP_FITTER_EXPR_PARSER_H_
#define MOESWEEP_FITTER_EXPR_PARSER_H_

#include <array>
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/status.h"
#include "fitter/fitter.h"

namespace moesweep::fitter {

// ExprToString spells operators in this order (expr_parser.cc, kSpellings).
enum class ExprOp : int {
  kNumber,
  kFeature,
  kParam,
  kNeg,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,
  kLog,
  kExp,
  kMin,
  kMax,
};

struct ExprNode {
  ExprOp op = ExprOp::kNumber;
  double number = 0;  // kNumber
  int index = 0;      // kFeature: the Feature's value; kParam: θ's index
  int lhs = -1;       // the operand of unary ops and functions; else the left
  int rhs = -1;       // the right operand of binary ops, min and max
  bool constant = true;  // reads no parameter, so it needs no derivatives
};

// A parsed expression. Immutable once built; thread-safe to evaluate.
struct ExprTree {
  std::vector<ExprNode> nodes;  // every child precedes its parent
  int root = -1;
  std::vector<Feature> features;  // each feature read, once, in reading order
  std::vector<bool> param_used;   // per declared parameter
};

// Parses `text` with parameters named `param_names` (θ's order).
// INVALID_ARGUMENT on a syntax error, naming the 1-based character position
// and what was expected ("expr: position 7: expected ')' after \"(A + B\", got
// end of expression"), or on an unknown name, listing the known features and
// parameters. Does not check that every parameter is used (see param_used).
StatusOr<ExprTree> ParseExpr(std::string_view text,
                             const std::vector<std::string>& param_names);

// The tree fully parenthesised, with parameters and features by name, e.g.
// "(-(params ^ 2))"; shows how the text was grouped.
std::string ExprToString(const ExprTree& tree,
                         const std::vector<std::string>& param_names);

// The features of `run`, indexed by Feature, for EvalExpr.
std::array<double, kNumFeatures> FeatureValues(const Observation& run);

namespace expr_internal {

template <typename T>
double Scalar(const T& x) {
  if constexpr (std::is_same_v<T, double>) {
    return x;
  } else {
    return x.a;  // ceres::Jet's value part
  }
}

// x^n by repeated multiplication: exact for negative x, and its derivative
// n·x^(n-1) stays finite at x = 0 where pow(Jet, double) may not.
template <typename T>
T IntegerPower(const T& x, int n) {
  T result(1.0);
  for (int i = 0; i < (n < 0 ? -n : n); ++i) result = result * x;
  return n < 0 ? T(1.0) / result : result;
}

// Integer exponents up to this size use IntegerPower.
inline constexpr double kMaxIntegerPower = 16;

template <typename T>
T Eval(const ExprTree& tree, int i, const T* theta, const double* features) {
  using std::exp;
  using std::log;
  using std::pow;
  const ExprNode& n = tree.nodes[i];
  if constexpr (!std::is_same_v<T, double>) {
    // Subtrees without parameters are evaluated once, without derivatives.
    if (n.constant) return T(Eval<double>(tree, i, nullptr, features));
  }
  switch (n.op) {
    case ExprOp::kNumber:
      return T(n.number);
    case ExprOp::kFeature:
      return T(features[n.index]);
    case ExprOp::kParam:
      return theta[n.index];
    case ExprOp::kNeg:
      return -Eval(tree, n.lhs, theta, features);
    case ExprOp::kAdd:
      return Eval(tree, n.lhs, theta, features) +
             Eval(tree, n.rhs, theta, features);
    case ExprOp::kSub:
      return Eval(tree, n.lhs, theta, features) -
             Eval(tree, n.rhs, theta, features);
    case ExprOp::kMul:
      return Eval(tree, n.lhs, theta, features) *
             Eval(tree, n.rhs, theta, features);
    case ExprOp::kDiv:
      return Eval(tree, n.lhs, theta, features) /
             Eval(tree, n.rhs, theta, features);
    case ExprOp::kPow: {
      const ExprNode& base = tree.nodes[n.lhs];
      const ExprNode& power = tree.nodes[n.rhs];
      if (power.constant) {
        const double p = Eval<double>(tree, n.rhs, nullptr, features);
        const T b = Eval(tree, n.lhs, theta, features);
        if (p == std::round(p) && std::abs(p) <= kMaxIntegerPower) {
          return IntegerPower(b, static_cast<int>(p));
        }
        return pow(b, p);
      }
      if (base.constant) {
        return pow(Eval<double>(tree, n.lhs, nullptr, features),
                   Eval(tree, n.rhs, theta, features));
      }
      return pow(Eval(tree, n.lhs, theta, features),
                 Eval(tree, n.rhs, theta, features));
    }
    case ExprOp::kLog:
      return log(Eval(tree, n.lhs, theta, features));
    case ExprOp::kExp:
      return exp(Eval(tree, n.lhs, theta, features));
    case ExprOp::kMin:
    case ExprOp::kMax: {
      // Chosen by value; the derivative is the chosen side's (a subgradient at
      // ties, which keeps the left operand).
      T a = Eval(tree, n.lhs, theta, features);
      T b = Eval(tree, n.rhs, theta, features);
      const bool take_b =
          n.op == ExprOp::kMin ? Scalar(b) < Scalar(a) : Scalar(b) > Scalar(a);
      return take_b ? b : a;
    }
  }
  return T(std::nan(""));
}

}  // namespace expr_internal

// The expression's value at parameters `theta` (one per declared parameter)
// and `features` (FeatureValues). T is double or a ceres::Jet. May be
// negative, zero or non-finite; callers decide what is feasible.
template <typename T>
T EvalExpr(const ExprTree& tree, const T* theta, const double* features) {
  return expr_internal::Eval(tree, tree.root, theta, features);
}

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_EXPR_PARSER_H_
