#!/bin/sh
# Runs a libFuzzer target for FUZZ_SECONDS (default 10) on a scratch copy of
# its seed corpus; fails on any crash, leak or sanitizer report.
set -eu
target=$1
seeds=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp -r "$seeds"/. "$work/corpus"/ 2>/dev/null || true
# -error_exitcode=1: libFuzzer's default, 77, is what meson reads as "skipped".
"$target" -max_total_time="${FUZZ_SECONDS:-10}" -timeout=10 -rss_limit_mb=2048 \
	-error_exitcode=1 -artifact_prefix="$work/crash-" -print_final_stats=1 "$work/corpus"
