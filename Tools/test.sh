#!/usr/bin/env bash
# The README's test command: installs what a fresh Debian machine lacks, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/install-deps.sh
swift build --build-tests
swift test --skip-build
