#!/usr/bin/env bash
# Builds the benchmark package in release mode and runs every suite, printing Markdown
# (the tables in BENCHMARKS.md) to stdout and progress to stderr.
#   Benchmarks/run.sh            # the default run (~15 minutes once the as-of stores are cached)
#   Benchmarks/run.sh --quick    # a smoke run (under a minute)
set -euo pipefail
cd "$(dirname "$0")"
swift build -c release --scratch-path .build >&2
# Suite 7 runs the command-line tool of the main package.
swift build -c release --package-path .. --product idledger >&2
for suite in ingest latency rebuild asof import cli; do
    .build/release/$suite "$@"
    echo
done
