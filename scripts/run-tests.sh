#!/bin/sh
# Runs the meson test suites of the build, sanitizer build and fuzz build
# directories, then prints one closing line "N passed, N failed" that
# counts test cases (TAP lines for TAP tests, one per test otherwise).
set -u
build=$1
asan=$2
fuzz=$3
rc=0
meson test -C "$build" --print-errorlogs --num-processes 2 || rc=1
# G_SLICE=always-malloc: GLib 2.74 keeps small blocks (GVariant, GBytes,
# lists) in its own slabs, where LeakSanitizer sees no leak; a leak report
# is easier to read again with fast_unwind_on_malloc=0 added.
G_SLICE=always-malloc ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C "$asan" --print-errorlogs --num-processes 2 || rc=1
meson test -C "$fuzz" --print-errorlogs || rc=1
/usr/bin/python3 "$(dirname "$0")/test-summary.py" "$build/meson-logs/testlog.json" \
	"$asan/meson-logs/testlog.json" "$fuzz/meson-logs/testlog.json" || rc=1
exit $rc
