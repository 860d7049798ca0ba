// The child of StoreCrashTest: opens the store at argv[1] and, from one thread
// per trial (argv[2] trials named "t0", "t1", ...), appends reports of attempt
// 1 with seq 1, 2, ... until it is killed, waiting for each acknowledgement.
// Each acknowledged report is written to stdout as one line
// "<trial> <attempt> <seq>\n" by a single write(2), so a kill never leaves
// half a line. Exits 2 if the store cannot be opened or a report is refused.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "coordinator/store.h"

int main(int argc, char** argv) {
  using moesweep::Status;
  using moesweep::coordinator::Store;
  using moesweep::coordinator::StoreOptions;
  if (argc != 3) return 2;
  StoreOptions options;
  options.path = argv[1];
  options.create_if_missing = false;
  auto store = Store::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 2;
  }
  const int trials = std::atoi(argv[2]);
  std::vector<std::thread> threads;
  for (int t = 0; t < trials; ++t) {
    threads.emplace_back([&, t] {
      std::string id = "t";
      id += std::to_string(t);
      for (int64_t seq = 1;; ++seq) {
        absl::Notification acked;
        bool ok = false;
        std::string payload = id;
        payload += '/';
        payload += std::to_string(seq);
        (*store)->AppendReport(id, 1, seq, payload, [&](Status s) {
          ok = s.ok();
          if (ok) {
            char line[64];
            int n = std::snprintf(line, sizeof(line), "t%d 1 %lld\n", t,
                                  static_cast<long long>(seq));
            (void)!write(1, line, static_cast<size_t>(n));
          }
          acked.Notify();
        });
        acked.WaitForNotification();
        if (!ok) _exit(2);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  return 0;
}
