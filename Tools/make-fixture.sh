#!/usr/bin/env bash
# Regenerates Tests/IdentityLedgerTests/Fixtures/store-format-1/data.mdb from
# FormatFixtureTests.writeFixtureStore (a fixed clock makes it reproducible), compacted
# with mdb_copy -c. Only for a deliberate format change: the committed fixture is what
# old stores look like, and every later version must keep reading it (see the test's docs).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${SCRATCH_PATH:-.build}"
swift build --scratch-path "$scratch" --build-tests
IDLEDGER_WRITE_FIXTURE=1 swift test --scratch-path "$scratch" --skip-build \
    --filter 'FormatFixtureTests/aCopyOfTheFormat1StoreReadsTheSameCustomersLookupsAndEvents'
ls -l Tests/IdentityLedgerTests/Fixtures/store-format-1/data.mdb
