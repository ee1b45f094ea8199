#!/usr/bin/env bash
# Coverage-guided fuzzing of every target on stable Rust, for a bounded time.
# cargo-fuzz needs nightly (for AddressSanitizer); this builds the same targets
# with the same LLVM SanitizerCoverage instrumentation cargo-fuzz adds, minus
# ASan (safe Rust needs it little), and runs libFuzzer directly.
# Usage: fuzz/run-stable.sh [seconds per target, default 60] [target ...]
# scripts/test runs it with 10 s per target (KUSTIQ_FUZZ_SECS).
#
# - The build goes to fuzz/ under the workspace's target directory (target/fuzz/,
#   or $CARGO_TARGET_DIR/fuzz/), never fuzz/target/.
# - fuzz/Cargo.lock (not committed) starts as a copy of the root Cargo.lock on
#   every run, so the fuzz build locks the same version of every crate the
#   workspace uses; a version that differs fails the run.
# - The corpus (fuzz/corpus/<target>/, not committed) is seeded with the Stripe
#   fixtures and a line per other target, and grows across runs.
# - Fails when a target crashes (the input is saved under fuzz/artifacts/<target>/
#   and printed: add it as a regression case to shared/tests/fuzz_smoke.rs) or
#   when a target reports no coverage (the instrumentation did not take).
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd .. && pwd)"
secs="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(event_parse webhook_header profile_body api_request_line)
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/fuzz"

# "name version" per locked package, sorted.
locked() {
  awk '/^\[\[package\]\]/ { name = "" } /^name = / { name = $3 }
       /^version = / && name != "" { print name, $3 }' "$1" | tr -d '"' | LC_ALL=C sort -u
}

cp "$root/Cargo.lock" Cargo.lock
# Resolves only what the root lock lacks (libfuzzer-sys and its dependencies).
cargo metadata --format-version 1 >/dev/null
# Every locked version the root lacks: a crate the root also locks is a duplicate version.
extra="$(LC_ALL=C comm -13 <(locked "$root/Cargo.lock") <(locked Cargo.lock) \
  | awk 'NR == FNR { root[$1] = 1; next } { print ($1 in root ? "drift" : "new"), $1, $2 }' \
    <(locked "$root/Cargo.lock") -)"
if grep -q '^drift' <<<"$extra"; then
  echo "fuzz/Cargo.lock locks versions the root Cargo.lock does not:" >&2
  grep '^drift' <<<"$extra" >&2
  exit 1
fi
echo "fuzz/Cargo.lock: the root's versions; fuzz-only:" \
  "$(grep '^new' <<<"$extra" | grep -v ' kustiq-fuzz ' | cut -d' ' -f2- | paste -sd, -)" >&2

# --target keeps the instrumentation out of build scripts and proc macros.
start=$(date +%s)
RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing" cargo build --target "$triple" --bins
echo "instrumented build: $(($(date +%s) - start)) s ($CARGO_TARGET_DIR)" >&2

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

failed=()
for target in "${targets[@]}"; do
  log="artifacts/$target/last-run.log"
  start=$(date +%s)
  status=0
  # -timeout: an input that runs 10 s is a hang, saved like a crash.
  "$CARGO_TARGET_DIR/$triple/debug/$target" -max_total_time="$secs" -max_len=16384 \
    -timeout=10 -print_final_stats=1 \
    -artifact_prefix="artifacts/$target/" "corpus/$target" >"$log" 2>&1 || status=$?
  # libFuzzer's last status line: "#<runs> DONE cov: <edges> ft: <features> corp: …".
  summary="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  echo "$target: $(($(date +%s) - start)) s, exit $status: ${summary:-no status line}" >&2
  if ((status != 0)); then
    tail -n 30 "$log" >&2
    sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | while read -r crash; do
      echo "$target: crash input fuzz/$crash (base64): $(base64 -w0 "$crash")" >&2
    done
    failed+=("$target")
  elif ! grep -Eq ' cov: [1-9][0-9]* ft: [1-9]' <<<"$summary"; then
    echo "$target: no coverage reported: the instrumentation did not take (see fuzz/$log)" >&2
    failed+=("$target")
  fi
done
if ((${#failed[@]})); then
  echo "fuzzing failed: ${failed[*]} (inputs under fuzz/artifacts/<target>/)" >&2
  exit 1
fi
