// moesweep coordinator refuses what it cannot serve from, saying why, and
// changes nothing: a port in use, a DB path it cannot use, a RocksDB of
// another program.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rocksdb/db.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

#include "cli/commands.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::cli {
namespace {

// A loopback port held open by this test.
class HeldPort {
 public:
  HeldPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~HeldPort() { ::close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

int RunCoordinator(CoordinatorCommandOptions o, std::string* err) {
  std::ostringstream out, e;
  const int code = RunCoordinatorCommand(o, out, e);
  *err = e.str();
  return code;
}

TEST(CoordinatorCommandTest, PortInUseNamesTheAddress) {
  testing::TempDir dir;
  HeldPort held;
  CoordinatorCommandOptions o;
  o.db = dir.File("db");
  o.listen = held.address();
  o.metrics = "";
  std::string err;
  EXPECT_EQ(RunCoordinator(o, &err), 1);
  EXPECT_NE(err.find("cannot listen on " + held.address()), std::string::npos)
      << err;
  // The metrics port too.
  o.listen = "127.0.0.1:0";
  o.metrics = held.address();
  EXPECT_EQ(RunCoordinator(o, &err), 1);
  EXPECT_NE(err.find("metrics: cannot listen on " + held.address()),
            std::string::npos)
      << err;
}

TEST(CoordinatorCommandTest, UnusableDbPathIsRefused) {
  testing::TempDir dir;
  CoordinatorCommandOptions o;
  o.db = dir.Write("a-file", "not a folder");
  o.listen = "127.0.0.1:0";
  o.metrics = "";
  o.tokens = dir.Write("tokens", "admin aaaaaaaaaaaaaaaaaaaa\n");
  std::string err;
  EXPECT_EQ(RunCoordinator(o, &err), 2);
  EXPECT_NE(err.find(o.db), std::string::npos) << err;
  EXPECT_EQ(testing::ReadFile(o.db), "not a folder");
}

TEST(CoordinatorCommandTest, RocksDbOfAnotherProgramIsRefusedUntouched) {
  testing::TempDir dir;
  const std::string db = dir.File("other");
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, db, &raw).ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), "k", "v").ok());
    delete raw;
  }
  CoordinatorCommandOptions o;
  o.db = db;
  o.listen = "127.0.0.1:0";
  o.metrics = "";
  o.tokens = dir.Write("tokens", "admin aaaaaaaaaaaaaaaaaaaa\n");
  std::string err;
  EXPECT_EQ(RunCoordinator(o, &err), 2);
  EXPECT_NE(err.find("column famil"), std::string::npos) << err;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), db, &raw).ok());
  std::string v;
  EXPECT_TRUE(raw->Get(rocksdb::ReadOptions(), "k", &v).ok());
  EXPECT_EQ(v, "v");
  delete raw;
}

TEST(CoordinatorCommandTest, BadTokensFileIsRefused) {
  testing::TempDir dir;
  CoordinatorCommandOptions o;
  o.db = dir.File("db");
  o.listen = "127.0.0.1:0";
  o.metrics = "";
  o.tokens = dir.Write("tokens", "superuser aaaaaaaaaaaaaaaaaaaa\n");
  std::string err;
  EXPECT_EQ(RunCoordinator(o, &err), 2);
  EXPECT_NE(err.find(o.tokens + ":1: role must be"), std::string::npos) << err;
}

}  // namespace
}  // namespace moesweep::cli
