// worker/agent/token_file.cc: the worker token from a file of one token or
// from the coordinator's `<role> <token>` tokens file; errors never hold it.

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "worker/agent/agent.h"

namespace moesweep::worker::agent {
namespace {

using ::moesweep::testing::TempDir;

constexpr char kToken[] = "w0rker-T0ken_0123456789abcdef";

TEST(TokenFileTest, TokenAloneAfterCommentsAndBlankLines) {
  TempDir dir;
  std::string path = dir.Write(
      "token", "# issued 2026-11-23\n\n   " + std::string(kToken) + "  \r\n");
  StatusOr<std::string> token = ReadTokenFile(path);
  ASSERT_OK(token);
  EXPECT_EQ(*token, kToken);
}

TEST(TokenFileTest, WorkerLineOfARolesFile) {
  TempDir dir;
  std::string path = dir.Write("tokens",
                               "# moesweep coordinator tokens\n"
                               "admin  admin-0123456789abcdefghij\n"
                               "viewer viewer-0123456789abcdefghij\n"
                               "worker " +
                                   std::string(kToken) +
                                   "\n"
                                   "worker second-worker-0123456789ab\n");
  StatusOr<std::string> token = ReadTokenFile(path);
  ASSERT_OK(token);
  EXPECT_EQ(*token, kToken);  // the first worker line
}

TEST(TokenFileTest, MissingFileIsNotFound) {
  TempDir dir;
  StatusOr<std::string> token = ReadTokenFile(dir.File("absent"));
  EXPECT_EQ(token.status().code(), StatusCode::kNotFound);
  EXPECT_NE(token.status().message().find(dir.File("absent")),
            std::string::npos);
}

TEST(TokenFileTest, BadFilesNameFileAndLineButNeverTheToken) {
  TempDir dir;
  const std::string secret = "s3cret-0123456789abcdefghij";
  struct Case {
    std::string contents;
    std::string message;  // after "<path>"
  };
  const Case cases[] = {
      {"# nothing but comments\n\n", ": holds no token"},
      {"admin " + secret + "\nviewer " + secret + "x\n",
       ": no 'worker' line (roles found: admin, viewer)"},
      {"short\n", ":1: the token must be 16..256 characters, got 5"},
      {std::string(300, 'x') + "\n",
       ":1: the token must be 16..256 characters, got 300"},
      {"worker " + secret + " extra\n",
       ":1: expected a token, or a role and a token, got 3 fields"},
      {"admin " + secret + "\n" + secret + "\n",
       ":2: expected a role and a token, got one field"},
      {secret + " " + secret + "\n",
       ":1: the role must be admin, worker or viewer"},
      {"worker tab\tinside-0123456789abcd\n",
       ":1: expected a token, or a role and a token, got 3 fields"},
      {"worker caf\xc3\xa9-0123456789abcdef\n",
       ":1: the token must be printable ASCII without spaces"},
  };
  for (const Case& c : cases) {
    std::string path = dir.Write("bad", c.contents);
    StatusOr<std::string> token = ReadTokenFile(path);
    ASSERT_FALSE(token.ok()) << c.message;
    EXPECT_EQ(token.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(token.status().message(), path + c.message);
    EXPECT_EQ(token.status().message().find(secret), std::string::npos);
  }
}

}  // namespace
}  // namespace moesweep::worker::agent
