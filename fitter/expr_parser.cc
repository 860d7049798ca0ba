// The `expr` language: tokenizer and recursive-descent parser (grammar in
// expr_parser.h). Every error names the 1-based character position where the
// parser stopped and what it expected there.

#include "fitter/expr_parser.h"

#include <cctype>
#include <charconv>
#include <iterator>
#include <string>

namespace moesweep::fitter {
namespace {

// Parentheses and unary signs nest the recursion; past this depth the text is
// refused rather than risking the stack.
constexpr int kMaxDepth = 200;

enum class TokenKind { kNumber, kName, kSymbol, kEnd };

struct Token {
  TokenKind kind;
  std::string_view text;
  int position;  // 1-based character position of the first character
  double number = 0;
};

bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)); }

// 'text', built by appending: GCC 12 warns falsely (-Wrestrict) on
// "'" + std::string(...).
std::string Quoted(std::string_view text) {
  std::string quoted = "'";
  quoted.append(text).append("'");
  return quoted;
}

Status ErrorAt(int position, std::string_view what) {
  return InvalidArgumentError("expr: position " + std::to_string(position) +
                              ": " + std::string(what));
}

// Reads the number starting at text[i]; sets *end past it.
StatusOr<double> LexNumber(std::string_view text, std::size_t i,
                           std::size_t* end) {
  std::size_t j = i;
  while (j < text.size() && IsDigit(text[j])) ++j;
  if (j < text.size() && text[j] == '.') {
    ++j;
    const std::size_t fraction = j;
    while (j < text.size() && IsDigit(text[j])) ++j;
    if (j == fraction && fraction == i + 1) {
      return ErrorAt(static_cast<int>(j + 1), "expected a digit after '.'");
    }
  }
  if (j < text.size() && (text[j] == 'e' || text[j] == 'E')) {
    ++j;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    const std::size_t digits = j;
    while (j < text.size() && IsDigit(text[j])) ++j;
    if (j == digits) {
      return ErrorAt(static_cast<int>(j + 1),
                     "expected digits in the exponent of number \"" +
                         std::string(text.substr(i, j - i)) + "\"");
    }
  }
  if (j < text.size() && IsNameStart(text[j])) {
    return ErrorAt(static_cast<int>(j + 1),
                   "expected an operator after number \"" +
                       std::string(text.substr(i, j - i)) +
                       "\" (write products with '*')");
  }
  double value = 0;
  const auto [ptr, ec] =
      std::from_chars(text.data() + i, text.data() + j, value);
  if (ec != std::errc() || ptr != text.data() + j || !std::isfinite(value)) {
    return ErrorAt(static_cast<int>(i + 1),
                   "number \"" + std::string(text.substr(i, j - i)) +
                       "\" is out of range");
  }
  *end = j;
  return value;
}

StatusOr<std::vector<Token>> Tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const int position = static_cast<int>(i + 1);
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (IsDigit(c) || c == '.') {
      std::size_t end = i;
      MOESWEEP_ASSIGN_OR_RETURN(const double value, LexNumber(text, i, &end));
      tokens.push_back(
          {TokenKind::kNumber, text.substr(i, end - i), position, value});
      i = end;
    } else if (IsNameStart(c)) {
      std::size_t end = i;
      while (end < text.size() && IsNameChar(text[end])) ++end;
      tokens.push_back({TokenKind::kName, text.substr(i, end - i), position});
      i = end;
    } else if (std::string_view("+-*/^(),").find(c) != std::string_view::npos) {
      tokens.push_back({TokenKind::kSymbol, text.substr(i, 1), position});
      ++i;
    } else {
      return ErrorAt(position, "unexpected character " +
                                   Quoted(std::string_view(&c, 1)) +
                                   " (operators: + - * / ^ ( ) ,)");
    }
  }
  tokens.push_back(
      {TokenKind::kEnd, std::string_view(), static_cast<int>(text.size() + 1)});
  return tokens;
}

int Arity(std::string_view function) {
  if (function == "log" || function == "exp") return 1;
  if (function == "min" || function == "max") return 2;
  return 0;
}

class Parser {
 public:
  Parser(std::string_view text, std::vector<Token> tokens,
         const std::vector<std::string>& param_names)
      : text_(text), tokens_(std::move(tokens)), param_names_(param_names) {
    tree_.param_used.assign(param_names.size(), false);
  }

  StatusOr<ExprTree> Parse() {
    if (Peek().kind == TokenKind::kEnd) {
      return ErrorAt(Peek().position,
                     "expected an expression, got an empty text");
    }
    MOESWEEP_ASSIGN_OR_RETURN(tree_.root, ParseSum(0));
    if (Peek().kind != TokenKind::kEnd) {
      return Expected("an operator or the end of the expression");
    }
    return std::move(tree_);
  }

 private:
  const Token& Peek() const { return tokens_[next_]; }
  bool IsSymbol(char c) const {
    return Peek().kind == TokenKind::kSymbol && Peek().text[0] == c;
  }

  // "expr: position 7: expected ')' after "(A + B", got end of expression".
  Status Expected(std::string_view what) const {
    const Token& t = Peek();
    std::string_view before = text_.substr(0, t.position - 1);
    while (!before.empty() &&
           std::isspace(static_cast<unsigned char>(before.back()))) {
      before.remove_suffix(1);
    }
    constexpr std::size_t kContext = 40;
    std::string message = "expected ";
    message.append(what);
    if (before.empty()) {
      message.append(" at the start");
    } else {
      message.append(" after \"");
      if (before.size() > kContext) {
        message.append("...");
        before = before.substr(before.size() - kContext);
      }
      message.append(before).append("\"");
    }
    message.append(", got ");
    if (t.kind == TokenKind::kEnd) {
      message.append("end of expression");
    } else {
      message.append("\"").append(t.text).append("\"");
    }
    return ErrorAt(t.position, message);
  }

  Status Expect(char c) {
    if (!IsSymbol(c)) return Expected(std::string("'") + c + "'");
    ++next_;
    return OkStatus();
  }

  int Add(ExprNode node) {
    if (node.lhs >= 0)
      node.constant = node.constant && tree_.nodes[node.lhs].constant;
    if (node.rhs >= 0)
      node.constant = node.constant && tree_.nodes[node.rhs].constant;
    tree_.nodes.push_back(node);
    return static_cast<int>(tree_.nodes.size()) - 1;
  }

  StatusOr<int> ParseSum(int depth) {
    MOESWEEP_ASSIGN_OR_RETURN(int lhs, ParseProduct(depth));
    while (IsSymbol('+') || IsSymbol('-')) {
      const ExprOp op = Peek().text[0] == '+' ? ExprOp::kAdd : ExprOp::kSub;
      ++next_;
      MOESWEEP_ASSIGN_OR_RETURN(const int rhs, ParseProduct(depth));
      lhs = Add({.op = op, .lhs = lhs, .rhs = rhs});
    }
    return lhs;
  }

  StatusOr<int> ParseProduct(int depth) {
    MOESWEEP_ASSIGN_OR_RETURN(int lhs, ParseUnary(depth));
    while (IsSymbol('*') || IsSymbol('/')) {
      const ExprOp op = Peek().text[0] == '*' ? ExprOp::kMul : ExprOp::kDiv;
      ++next_;
      MOESWEEP_ASSIGN_OR_RETURN(const int rhs, ParseUnary(depth));
      lhs = Add({.op = op, .lhs = lhs, .rhs = rhs});
    }
    return lhs;
  }

  StatusOr<int> ParseUnary(int depth) {
    if (depth > kMaxDepth) {
      return ErrorAt(Peek().position, "expression nested more than " +
                                          std::to_string(kMaxDepth) +
                                          " levels deep");
    }
    if (IsSymbol('-') || IsSymbol('+')) {
      const bool negate = Peek().text[0] == '-';
      ++next_;
      MOESWEEP_ASSIGN_OR_RETURN(const int operand, ParseUnary(depth + 1));
      return negate ? Add({.op = ExprOp::kNeg, .lhs = operand}) : operand;
    }
    MOESWEEP_ASSIGN_OR_RETURN(const int base, ParsePrimary(depth));
    if (!IsSymbol('^')) return base;
    ++next_;
    // The exponent is a unary: right-associative, and 2^-1 is allowed.
    MOESWEEP_ASSIGN_OR_RETURN(const int power, ParseUnary(depth + 1));
    return Add({.op = ExprOp::kPow, .lhs = base, .rhs = power});
  }

  StatusOr<int> ParsePrimary(int depth) {
    const Token t = Peek();
    if (t.kind == TokenKind::kNumber) {
      ++next_;
      return Add({.op = ExprOp::kNumber, .number = t.number});
    }
    if (IsSymbol('(')) {
      ++next_;
      MOESWEEP_ASSIGN_OR_RETURN(const int inner, ParseSum(depth + 1));
      MOESWEEP_RETURN_IF_ERROR(Expect(')'));
      return inner;
    }
    if (t.kind != TokenKind::kName) {
      return Expected("a number, a name or '('");
    }
    ++next_;
    if (const int arity = Arity(t.text); arity > 0) {
      return ParseCall(t, arity, depth);
    }
    if (IsSymbol('(')) {
      return ErrorAt(t.position, Quoted(t.text) +
                                     " is not a function (functions: log, "
                                     "exp, min, max)");
    }
    return ParseName(t);
  }

  StatusOr<int> ParseCall(const Token& name, int arity, int depth) {
    MOESWEEP_RETURN_IF_ERROR(Expect('('));
    MOESWEEP_ASSIGN_OR_RETURN(const int first, ParseSum(depth + 1));
    int second = -1;
    if (arity == 2) {
      MOESWEEP_RETURN_IF_ERROR(Expect(','));
      MOESWEEP_ASSIGN_OR_RETURN(second, ParseSum(depth + 1));
    }
    MOESWEEP_RETURN_IF_ERROR(Expect(')'));
    const ExprOp op = name.text == "log"   ? ExprOp::kLog
                      : name.text == "exp" ? ExprOp::kExp
                      : name.text == "min" ? ExprOp::kMin
                                           : ExprOp::kMax;
    return Add({.op = op, .lhs = first, .rhs = second});
  }

  StatusOr<int> ParseName(const Token& t) {
    for (std::size_t i = 0; i < param_names_.size(); ++i) {
      if (param_names_[i] != t.text) continue;
      tree_.param_used[i] = true;
      return Add({.op = ExprOp::kParam,
                  .index = static_cast<int>(i),
                  .constant = false});
    }
    StatusOr<Feature> feature = FeatureFromName(t.text);
    if (!feature.ok()) {
      std::string features, params;
      for (int f = 0; f < kNumFeatures; ++f) {
        features +=
            (f ? ", " : "") + std::string(FeatureName(static_cast<Feature>(f)));
      }
      for (const std::string& p : param_names_) {
        params += (params.empty() ? "" : ", ") + p;
      }
      return ErrorAt(
          t.position,
          "unknown name " + Quoted(t.text) + " (features: " + features +
              "; parameters: " + (params.empty() ? "none" : params) + ")");
    }
    bool seen = false;
    for (Feature f : tree_.features) seen |= f == *feature;
    if (!seen) tree_.features.push_back(*feature);
    return Add({.op = ExprOp::kFeature, .index = static_cast<int>(*feature)});
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  const std::vector<std::string>& param_names_;
  std::size_t next_ = 0;
  ExprTree tree_;
};

// How an operator node is written: `open` lhs [`separator` rhs] ")".
struct Spelling {
  const char* open;
  const char* separator;
};

// Indexed by ExprOp from kNeg on (the order of the enum).
constexpr Spelling kSpellings[] = {
    {"(-", ""},   {"(", " + "}, {"(", " - "}, {"(", " * "},   {"(", " / "},
    {"(", " ^ "}, {"log(", ""}, {"exp(", ""}, {"min(", ", "}, {"max(", ", "},
};

static_assert(std::size(kSpellings) ==
              static_cast<std::size_t>(ExprOp::kMax) -
                  static_cast<std::size_t>(ExprOp::kNeg) + 1);

// Appends node i, fully parenthesised, to *out.
void AppendNode(const ExprTree& tree, int i,
                const std::vector<std::string>& param_names, std::string* out) {
  const ExprNode& n = tree.nodes[i];
  if (n.op == ExprOp::kNumber) {
    char buffer[32];
    const auto result =
        std::to_chars(buffer, buffer + sizeof(buffer), n.number);
    out->append(buffer, result.ptr);
    return;
  }
  if (n.op == ExprOp::kFeature) {
    out->append(FeatureName(static_cast<Feature>(n.index)));
    return;
  }
  if (n.op == ExprOp::kParam) {
    out->append(param_names[n.index]);
    return;
  }
  const Spelling& spelling =
      kSpellings[static_cast<int>(n.op) - static_cast<int>(ExprOp::kNeg)];
  out->append(spelling.open);
  AppendNode(tree, n.lhs, param_names, out);
  if (n.rhs >= 0) {
    out->append(spelling.separator);
    AppendNode(tree, n.rhs, param_names, out);
  }
  out->append(")");
}

}  // namespace

StatusOr<ExprTree> ParseExpr(std::string_view text,
                             const std::vector<std::string>& param_names) {
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(text));
  return Parser(text, std::move(tokens), param_names).Parse();
}

std::string ExprToString(const ExprTree& tree,
                         const std::vector<std::string>& param_names) {
  std::string out;
  if (tree.root >= 0) AppendNode(tree, tree.root, param_names, &out);
  return out;
}

std::array<double, kNumFeatures> FeatureValues(const Observation& run) {
  std::array<double, kNumFeatures> values;
  for (int f = 0; f < kNumFeatures; ++f) {
    values[f] = run.Get(static_cast<Feature>(f));
  }
  return values;
}

}  // namespace moesweep::fitter
