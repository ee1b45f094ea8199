#!/usr/bin/env bash
# Coverage-guided fuzzing of every target on stable Rust, for a bounded time.
# cargo-fuzz needs nightly (for AddressSanitizer); this builds the same targets
# with the same LLVM SanitizerCoverage instrumentation cargo-fuzz adds, minus
# ASan (safe Rust needs it little), and runs libFuzzer directly.
# Usage: fuzz/run-stable.sh [seconds per target, default 60] [target ...]
# A crash is saved under fuzz/artifacts/<target>/ and fails the run; add its
# input as a regression case to shared/tests/fuzz_smoke.rs.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(event_parse webhook_header profile_body api_request_line)
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"

# --target keeps the instrumentation out of build scripts and proc macros.
RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing" cargo build --target "$triple" --bins

for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
done
for f in ../shared/tests/fixtures/stripe/*.json; do
  [ -e "corpus/event_parse/$(basename "$f")" ] || cp "$f" corpus/event_parse/
done
printf 't=1700000000,v1=00,v0=11\n{"id":"evt_1"}' > corpus/webhook_header/seed
printf '{"email":"a@acme.io","domain":"acme.io","name":"A","stripe_customer_id":"cus_1","families":{"crm":[{"signal":"champion_left","impact":12.5,"explanation":"x","evidence":["e"]}]},"classifier_churn_risk":40}' \
  > corpus/profile_body/seed
printf '/api/v1/churn/at-risk\nlimit=25&cursor=eyJwayI6IldTI2EifQ.AAAAAAAAAAAAAAAAAAAAAA' > corpus/api_request_line/seed

for target in "${targets[@]}"; do
  "target/$triple/debug/$target" -max_total_time="$secs" -max_len=16384 \
    -artifact_prefix="artifacts/$target/" "corpus/$target"
done
