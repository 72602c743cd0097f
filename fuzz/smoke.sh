#!/usr/bin/env bash
# Fuzz smoke test for CI: builds every cargo-fuzz target, replays fuzz/regressions/<target>/,
# then fuzzes each target for N seconds (default 20), one after another.
#
#   fuzz/smoke.sh [SECONDS]
#
# Exits 0 when nothing was found, 1 on any crash, timeout or out-of-memory (a regression that
# fails again, or a new finding), 2 when the build fails. Reproducers of new findings are left
# in fuzz/artifacts/<target>/ (upload that folder from CI).
#
# Environment:
#   FUZZ_TARGETS  space-separated subset of targets (default: all, from `cargo fuzz list`)
#   FUZZ_ARGS     extra libFuzzer arguments, appended to the defaults below
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). The committed
# corpus (fuzz/corpus/<target>/) is only read: new inputs go to a temporary folder.
set -u

cd "$(dirname "$0")/.." || exit 2
seconds=${1:-20}
limits=(-rss_limit_mb=1024 -timeout=10)
read -r -a extra <<<"${FUZZ_ARGS:-}"

start=$(date +%s)
if ! cargo +nightly fuzz build; then
    echo "smoke: build failed" >&2
    exit 2
fi
built=$(date +%s)
if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bsonflow-fuzz-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
    log="$work/$t.log"
    # 1. Every committed reproducer runs once.
    if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
        if ! cargo +nightly fuzz run "$t" fuzz/regressions/"$t"/* -- "${limits[@]}" "${extra[@]}" \
            >"$work/$t.regressions.log" 2>&1; then
            echo "smoke: $t: a regression input fails again:" >&2
            grep -E -m3 "panicked|ERROR: libFuzzer|SUMMARY" "$work/$t.regressions.log" >&2
            failed+=("$t (regression)")
        fi
    fi
    # 2. N seconds of fuzzing from the committed corpus.
    mkdir -p "$work/corpus/$t"
    cargo +nightly fuzz run "$t" "$work/corpus/$t" "fuzz/corpus/$t" -- \
        "${limits[@]}" -max_total_time="$seconds" "${extra[@]}" >"$log" 2>&1
    rc=$?
    stats=$(grep -E '^#[0-9]+.*(DONE|NEW|REDUCE|pulse)' "$log" | tail -1 |
        grep -oE 'cov: [0-9]+|corp: [0-9]+/[0-9]+[bKM]?b?|exec/s: [0-9]+' | paste -sd' ')
    if [ $rc -ne 0 ]; then
        echo "smoke: $t: finding (exit $rc):" >&2
        grep -E -m3 "panicked|ERROR: libFuzzer|SUMMARY" "$log" >&2
        grep -E "Test unit written to" "$log" >&2
        failed+=("$t")
        summary+=("$(printf '%-18s FAIL  %s' "$t" "$stats")")
    else
        summary+=("$(printf '%-18s ok    %s' "$t" "$stats")")
    fi
done
end=$(date +%s)

printf '%s\n' "${summary[@]}"
echo "smoke: build $((built - start)) s, fuzzing $((end - built)) s (${#targets[@]} targets x ${seconds} s)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "smoke: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "smoke: no findings"
