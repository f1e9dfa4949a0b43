#!/usr/bin/env bash
# Writes Tests/IdentityLedgerTests/Fixtures/store-format-N/data.mdb (N: the current format) from
# FormatFixtureTests.writeFixtureStore (a fixed clock makes it reproducible), compacted
# with mdb_copy -c. Only for a deliberate format change: the committed fixture is what
# old stores look like, and every later version must keep reading it (see the test's docs).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${SCRATCH_PATH:-.build}"
swift build --scratch-path "$scratch" --build-tests
IDLEDGER_WRITE_FIXTURE=1 swift test --scratch-path "$scratch" --skip-build \
    --filter 'FormatFixtureTests/writeTheFixtureOfTheCurrentFormatWhenAsked'
ls -l Tests/IdentityLedgerTests/Fixtures/store-format-*/data.mdb
