#!/bin/sh
# Runs a libFuzzer target for FUZZ_SECONDS (default 10) on a scratch copy of
# its seed corpus; fails on any crash, leak or sanitizer report.
set -eu
target=$1
seeds=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/ 2>/dev/null || true
exec "$target" -max_total_time="${FUZZ_SECONDS:-10}" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 "$work"
