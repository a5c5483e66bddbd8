# shellcheck shell=bash
# The steps scripts/kernel-matrix.sh runs in every guest, in order. Sourced by it: see its
# header for `step`, `copy`, `guest_env`, `guest_modules` and `cargo_executable`.
#
# On each kernel: `kotel doctor` (it verifies every program of the shipped pipeline and
# prints what the kernel offers); the kernel root tests, with the same assertions as on
# the host (every program under every load-time combination within the stack budget, the
# refusal path, then the tcp, exec and file_open sources against real syscalls); and the
# shipped pipeline counting real connections at its Prometheus endpoint.

# The agent as shipped (release build), and integration-test binaries (their names carry
# a hash: cargo_executable finds them). The tests are built --release too: under TCG a
# debug build spends seconds parsing the kernel's BTF, and tcp_kernel's "stops within
# 2 s" failed with it (released: 1.3 s); the whole binary also runs 2-3 times faster.
kotel=$(cargo_executable bin kotel build --release --bin kotel)

# The root tests of the kernel sources, in the order they run.
KERNEL_TESTS=(
  kernel_programs_load
  kernel_rejection
  doctor
  tcp_kernel
  tcp_owner
  tcp_filter
  tcp_retransmits
  tcp_rtt
  exec_kernel
  exec_names
  file_open_kernel
  file_open_resolution
  l7_kernel
)

guest_env RUST_BACKTRACE=1
# Tests that start the agent take it from KOTEL_BIN (tests/src/lib.rs, kotel_binary).
guest_env KOTEL_BIN="$kotel"
# Helper binaries the tests run by their build-time path (env!("CARGO_BIN_EXE_...")).
copy "$ROOT/target/release/kotel-test-listener" "$ROOT/target/release/kotel-test-thread-exec" \
  "$ROOT/target/release/kotel-test-http"
# exec tests run /bin/true by name (busybox's applet would not take a long argv[0]), and
# exec_names copies /usr/bin/true's bytes.
copy /usr/bin/true
# tcp_rtt and tcp_retransmits build a veth pair and shape it with tbf or a blackhole.
copy /usr/sbin/ip /usr/sbin/tc
guest_modules veth sch_tbf

step kotel_doctor "$kotel" doctor --config "$ROOT/pipeline.yaml"
for name in "${KERNEL_TESTS[@]}"; do
  binary=$(cargo_executable test "$name" test --release --no-run -p kotel-integration-tests --test "$name")
  # From the package's directory, as cargo runs a test binary.
  step "$name" --cwd "$ROOT/tests" "$binary" --test-threads=1
done
# `kotel run` with the shipped pipeline: its Prometheus endpoint counts the connections
# the step makes (each scrape is one).
step agent_metrics sh "$MATRIX/agent-metrics.sh" "$kotel" --config "$ROOT/pipeline.yaml"
