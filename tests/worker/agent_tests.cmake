# Tests of the worker's coordinator client (worker/agent/). Paths are
# relative to tests/, which include()s this file.
find_package(absl CONFIG REQUIRED)

# Without a coordinator: the spec mapping, the token file, the attempt
# bookkeeping, the trial runner on real shards, and the parity of the
# trainer's counts with the coordinator's (its spec conversion).
moesweep_test(agent_unit_test
  SOURCES worker/agent_attempt_table_test.cc worker/agent_spec_mapping_test.cc
          worker/agent_token_file_test.cc worker/agent_trial_runner_test.cc
          worker/agent_arch_parity_test.cc
  LIBS moesweep_agent moesweep_coordinator moesweep_fitter
       absl::synchronization)

# Against a real coordinator on loopback (tests/testing/coordinator_fixture.h),
# and `moesweep worker` itself, in-process and as a child process for SIGTERM.
moesweep_test(agent_test
  SOURCES worker/agent_test.cc worker/agent_failure_test.cc
          worker/agent_worker_command_test.cc
  LIBS moesweep_agent moesweep_cli moesweep_coordinator_testing
       absl::synchronization)
target_compile_definitions(agent_test PRIVATE
  MOESWEEP_BINARY="$<TARGET_FILE:moesweep>")
add_dependencies(agent_test moesweep)
