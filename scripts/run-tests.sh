#!/bin/sh
# Runs the meson test suites of the build and fuzz build directories, then
# prints one closing line "N passed, N failed" that counts test cases (TAP
# lines for TAP tests, one per test otherwise).
set -u
build=$1
fuzz=$2
rc=0
meson test -C "$build" --print-errorlogs --num-processes 2 || rc=1
meson test -C "$fuzz" --print-errorlogs || rc=1
/usr/bin/python3 "$(dirname "$0")/test-summary.py" "$build/meson-logs/testlog.json" \
	"$fuzz/meson-logs/testlog.json" || rc=1
exit $rc
