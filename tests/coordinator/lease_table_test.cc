// LeaseTable: grants, renewals only by the holder of that attempt, expiry.

#include "coordinator/lease_table.h"

#include <gtest/gtest.h>

namespace moesweep::coordinator {
namespace {

TEST(LeaseTableTest, RenewalNeedsTheHolderAndTheAttempt) {
  LeaseTable leases;
  const v1::Lease l = leases.Grant("c1", "c1-t000000", 1, "w1", 1000, 5000);
  EXPECT_EQ(l.deadline_unix_ms(), 6000);
  EXPECT_EQ(l.attempt(), 1);
  EXPECT_EQ(leases.Renew("c1-t000000", 1, "w1", 5500), 6500);
  EXPECT_EQ(leases.Renew("c1-t000000", 1, "w2", 5600), 0);  // not the holder
  EXPECT_EQ(leases.Renew("c1-t000000", 2, "w1", 5600), 0);  // another attempt
  EXPECT_EQ(leases.Renew("unknown", 1, "w1", 5600), 0);
  // A renewal never shortens a lease.
  EXPECT_EQ(leases.Renew("c1-t000000", 1, "w1", 5000), 6500);
  EXPECT_EQ(leases.NextDeadline(), 6500);
}

TEST(LeaseTableTest, ExpiredLeasesAreTakenOnceInDeadlineOrder) {
  LeaseTable leases;
  leases.Grant("c1", "a", 1, "w1", 100, 1000);
  leases.Grant("c1", "b", 3, "w2", 300, 1000);
  leases.Grant("c1", "c", 1, "w1", 200, 1000);
  EXPECT_EQ(leases.HeldBy("w1").size(), 2u);
  std::vector<LeaseEntry> gone = leases.TakeExpired(1250);
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_TRUE(leases.TakeExpired(1250).empty());
  EXPECT_EQ(leases.size(), 1);
  ASSERT_TRUE(leases.Get("b").has_value());
  EXPECT_EQ(leases.Get("b")->lease.attempt(), 3);
  leases.Release("b");
  EXPECT_EQ(leases.size(), 0);
  EXPECT_EQ(leases.NextDeadline(), std::numeric_limits<int64_t>::max());
}

TEST(LeaseTableTest, RegrantGivesANewLeaseId) {
  LeaseTable leases;
  const std::string first = leases.Grant("c", "t", 1, "w", 10, 0).lease_id();
  const std::string second = leases.Grant("c", "t", 2, "w", 10, 0).lease_id();
  EXPECT_NE(first, second);
  EXPECT_EQ(leases.Get("t")->lease.attempt(), 2);
}

}  // namespace
}  // namespace moesweep::coordinator
