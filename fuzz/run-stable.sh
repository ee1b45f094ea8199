#!/usr/bin/env bash
# Coverage-guided fuzzing of both targets on stable Rust, for a bounded time.
# cargo-fuzz needs nightly (for AddressSanitizer); this builds the same targets
# with the same LLVM SanitizerCoverage instrumentation cargo-fuzz adds, minus
# ASan (safe Rust needs it little), and runs libFuzzer directly.
# Usage: fuzz/run-stable.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
triple="$(rustc -vV | sed -n 's/^host: //p')"

# --target keeps the instrumentation out of build scripts and proc macros.
RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing" cargo build --target "$triple" --bins

mkdir -p corpus/event_parse corpus/webhook_header artifacts
for f in ../shared/tests/fixtures/stripe/*.json; do
  [ -e "corpus/event_parse/$(basename "$f")" ] || cp "$f" corpus/event_parse/
done
printf 't=1700000000,v1=00,v0=11\n{"id":"evt_1"}' > corpus/webhook_header/seed

for target in event_parse webhook_header; do
  "target/$triple/debug/$target" -max_total_time="$secs" -max_len=16384 \
    -artifact_prefix=artifacts/ "corpus/$target"
done
