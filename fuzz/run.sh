#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 60), seeded with the demo inputs:
#   fuzz/run.sh 300
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). SANITIZER=none skips
# AddressSanitizer (cargo fuzz's default is address), which otherwise rebuilds polars with it. A crash is saved under
# fuzz/artifacts/TARGET/; turn it into a regression test in tests/hostile_inputs.rs.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
demo=../fixtures/demo
mkdir -p corpus/csv corpus/xlsx corpus/json corpus/tar_gz corpus/rules
cp "$demo"/consumption/*.csv "$demo"/incentives/*.csv "$demo"/customers.csv corpus/csv/
cp "$demo"/consumption/*.xlsx corpus/xlsx/
cp "$demo"/consumption/*.json corpus/json/
cp "$demo"/bills/*.tar.gz corpus/tar_gz/
cp "$demo"/rules.toml ../rules/*.toml corpus/rules/ 2>/dev/null || cp "$demo"/rules.toml corpus/rules/
status=0
for t in csv xlsx json tar_gz rules; do
  echo "== $t: $secs s"
  # (-rss_limit_mb: a run that needs more than 2 GiB is a bug too; -timeout: one input at most 10 s)
  if ! cargo +nightly fuzz run -s "${SANITIZER:-address}" "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=262144; then
    echo "!! $t failed: see fuzz/artifacts/$t/" >&2
    status=1
  fi
done
exit $status
