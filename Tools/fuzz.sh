#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (with AddressSanitizer) and runs each for a while.
#   Tools/fuzz.sh                 # CI: 25 s per target
#   FUZZ_SECONDS=3600 Tools/fuzz.sh FuzzEventDecoder   # a longer run of one target
# Seeds come from Fuzz/Corpus/<target>/ (committed); new inputs go to .fuzz/corpus/<target>/
# and crashes to .fuzz/artifacts/<target>/. Exits non-zero when a target finds a crash;
# every crash found becomes a named test in Tests/IdentityLedgerTests/FuzzRegressionTests.swift.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
seconds="${FUZZ_SECONDS:-25}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzCommandJSON FuzzEventDecoder FuzzImportReader)
scratch="${FUZZ_SCRATCH_PATH:-$root/.build-fuzz}"

# lld: gold fails on the sanitized objects ("internal error in format_file_lineno").
swift build --package-path Fuzz --scratch-path "$scratch" -c release \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
bin="$(swift build --package-path Fuzz --scratch-path "$scratch" -c release --show-bin-path)"

status=0
for target in "${targets[@]}"; do
    corpus="$root/.fuzz/corpus/$target"
    artifacts="$root/.fuzz/artifacts/$target/"
    mkdir -p "$corpus" "$artifacts"
    echo "== $target: ${seconds}s"
    # -rss_limit_mb: the decoders must not allocate unboundedly from a short input.
    set +e
    "$bin/$target" "$corpus" "$root/Fuzz/Corpus/$target" \
        -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=1024 -timeout=10 \
        -artifact_prefix="$artifacts" -print_final_stats=1 > "$root/.fuzz/$target.log" 2>&1
    code=$?
    set -e
    grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|panic|Fatal error" "$root/.fuzz/$target.log" | head -n 20 || true
    if [ "$code" != 0 ] || ls "$artifacts" | grep -q .; then
        echo "!! $target exited $code; artifacts: $(ls "$artifacts" | tr '\n' ' ') (log: .fuzz/$target.log)"
        status=1
    fi
done
exit $status
