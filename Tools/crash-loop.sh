#!/usr/bin/env bash
# The kill loop (docs/durability.md, "Kill loop"): N SIGKILLs over the workloads ingest, import,
# rebuild and erase (comma-separated; default all; erase is skipped while idledger has no erase
# command), each kill followed by `idledger verify` and a check that every acknowledged line and
# row is in the store. Exits 1 at the first failed check, keeping that store.
#   Tools/crash-loop.sh 60                    # a few minutes
#   Tools/crash-loop.sh 1000                  # the nightly size
#   Tools/crash-loop.sh 200 import,rebuild    # some workloads only
# IDLEDGER_BIN picks the executable (default: a debug build, made here); IDLEDGER_CRASH_SEED the
# schedule; extra options go to Tools/crash-loop.py (--dir, --rotate; --help).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${IDLEDGER_BIN:-}" ]]; then
    swift build --product idledger >&2
    IDLEDGER_BIN="$(swift build --show-bin-path)/idledger"
fi
exec python3 Tools/crash-loop.py --bin "$IDLEDGER_BIN" "$@"
