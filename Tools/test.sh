#!/usr/bin/env bash
# The README's test command: installs what a fresh Debian machine lacks, builds, runs every
# test, then fuzzes each decoder briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/install-deps.sh
swift build --build-tests
swift test --skip-build
# A short libFuzzer run over the command, event and import decoders (docs/fuzzing.md).
FUZZ_SECONDS="${FUZZ_SECONDS:-20}" bash Tools/fuzz.sh
