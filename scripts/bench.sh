#!/usr/bin/env bash
# Runs the benchmarks of shared/bench.md (release build) and writes target/bench/results.json.
# The agent scenarios keep their secret in the OS keychain, so the run happens inside a
# private session with one (scripts/with-session.sh). Arguments go to kendrix-bench,
# e.g. `bash scripts/bench.sh --only S1,S8`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p kendrix-bench --locked
exec bash scripts/with-session.sh cargo run --release -q -p kendrix-bench --locked -- "$@"
