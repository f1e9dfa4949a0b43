#!/usr/bin/env bash
# Prints the seeded benchmark workload as `idledger ingest` JSON Lines (or, with --csv ROWS
# --out FILE, an import CSV). Same generator as the benchmark suites (Benchmarks/).
#   Tools/workload.sh --customers 10000 --events 100000 --seed 1 > w.jsonl
#   Tools/workload.sh --csv 100000 --out rows.csv
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --package-path Benchmarks --scratch-path Benchmarks/.build --product workload >&2
exec Benchmarks/.build/release/workload "$@"
