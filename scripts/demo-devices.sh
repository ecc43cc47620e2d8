#!/bin/sh
# The devices part of the demo: lists the simulated devices, then shows one
# arriving and leaving, as `devbgctl devices --watch` sees it.
#
#   scripts/demo-devices.sh BUILD_DIR BUS_ADDRESS
#
# Needs, on the bus at BUS_ADDRESS, a devbgd with EnableVirtualBackend=true
# and a running devbg-sim (BUILD_DIR/sim/devbg-sim --bus-address BUS_ADDRESS).
set -eu
build=$1
bus=$2
ctl="$build/src/cli/devbgctl"
sim="$build/sim/devbg-sim"
export DBUS_SYSTEM_BUS_ADDRESS="$bus"

echo "== devbgctl devices"
"$ctl" devices

echo "== devbgctl devices --watch, while a second band is plugged in and out"
"$ctl" devices --watch > "${TMPDIR:-/tmp}/devbg-demo-watch.$$" &
watch=$!
sleep 0.3
"$sim" ctl --bus-address "$bus" add band id=demo-band serial=DEMO-0001 name="demo band" >/dev/null
sleep 0.5
"$sim" ctl --bus-address "$bus" remove demo-band
sleep 0.3
kill "$watch"
wait "$watch" 2>/dev/null || true
cat "${TMPDIR:-/tmp}/devbg-demo-watch.$$"
rm -f "${TMPDIR:-/tmp}/devbg-demo-watch.$$"
