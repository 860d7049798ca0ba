// LeaseTable: grants, renewals only by the holder of that attempt, expiry on
// the table's steady clock.

#include "coordinator/lease_table.h"

#include <gtest/gtest.h>

#include "tests/testing/fake_clock.h"

namespace moesweep::coordinator {
namespace {

TEST(LeaseTableTest, RenewalNeedsTheHolderAndTheAttempt) {
  testing::FakeClock clock(5000);
  LeaseTable leases(&clock);
  const v1::Lease l = leases.Grant("c1", "c1-t000000", 1, "w1", 1000);
  EXPECT_EQ(l.attempt(), 1);
  EXPECT_EQ(leases.NextDeadlineMs(), 6000);
  clock.Advance(500);
  EXPECT_GT(leases.Renew("c1-t000000", 1, "w1"), 0);
  EXPECT_EQ(leases.NextDeadlineMs(), 6500);
  EXPECT_EQ(leases.Renew("c1-t000000", 1, "w2"), 0);  // not the holder
  EXPECT_EQ(leases.Renew("c1-t000000", 2, "w1"), 0);  // another attempt
  EXPECT_EQ(leases.Renew("unknown", 1, "w1"), 0);
  EXPECT_EQ(leases.NextDeadlineMs(), 6500);
}

TEST(LeaseTableTest, DeadlinesFollowTheSteadyClockNotTheWall) {
  testing::FakeClock clock(0);
  LeaseTable leases(&clock);
  const v1::Lease l = leases.Grant("c1", "a", 1, "w1", 1000);
  // The worker is told a wall-clock deadline about ttl ahead.
  EXPECT_GE(l.deadline_unix_ms(), NowUnixMs() + 900);
  // However far the wall moves, the lease lasts until the steady clock
  // reaches its deadline.
  clock.Advance(999);
  EXPECT_TRUE(leases.TakeExpired().empty());
  clock.Advance(1);
  EXPECT_EQ(leases.TakeExpired().size(), 1u);
}

TEST(LeaseTableTest, ExpiredLeasesAreTakenOnce) {
  testing::FakeClock clock(1000);
  LeaseTable leases(&clock);
  leases.Grant("c1", "a", 1, "w1", 100);
  leases.Grant("c1", "b", 3, "w2", 300);
  leases.Grant("c1", "c", 1, "w1", 200);
  EXPECT_EQ(leases.HeldBy("w1").size(), 2u);
  clock.Advance(250);
  std::vector<LeaseEntry> gone = leases.TakeExpired();
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_TRUE(leases.TakeExpired().empty());
  EXPECT_EQ(leases.size(), 1);
  ASSERT_TRUE(leases.Get("b").has_value());
  EXPECT_EQ(leases.Get("b")->lease.attempt(), 3);
  leases.Release("b");
  EXPECT_EQ(leases.size(), 0);
  EXPECT_EQ(leases.NextDeadlineMs(), std::numeric_limits<int64_t>::max());
}

TEST(LeaseTableTest, RegrantGivesANewLeaseId) {
  testing::FakeClock clock;
  LeaseTable leases(&clock);
  const std::string first = leases.Grant("c", "t", 1, "w", 10).lease_id();
  const std::string second = leases.Grant("c", "t", 2, "w", 10).lease_id();
  EXPECT_NE(first, second);
  EXPECT_EQ(leases.Get("t")->lease.attempt(), 2);
}

}  // namespace
}  // namespace moesweep::coordinator
