#!/bin/sh
# Runs every benchmark in bench/ (bench_*.py) against the build in BUILD_DIR.
# Each prints its figures, one line each, measured side by side in one run.
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
rc=0
for b in "$here"/bench/bench_*.py; do
	/usr/bin/python3 "$b" "$build" || rc=1
done
exit $rc
