#!/bin/sh
# make demo: a private system bus, the real devbgd on it with the example
# app's manifest and the simulated devices' metadata, and the example app
# as a client. Shows what works today, step by step.
set -eu
build=${1:-build}
build=$(cd "$build" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/devbg-demo-XXXXXX)
chmod 755 "$work"
bus_pid=""
daemon_pid=""
sim_pid=""
agent_pid=""
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
	[ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The bus: of type system, reachable by any user (see TESTING-NOTES.md).
mkdir -p "$work/bus" "$work/manifests" "$work/metadata" "$work/state"
sed "s|@SOCKET@|$work/bus/socket|" "$src/tests/private-bus.conf.in" > "$work/bus/bus.conf"
dbus-daemon --config-file="$work/bus/bus.conf" --nofork --print-address > "$work/bus/address" 2>/dev/null &
bus_pid=$!
while [ ! -s "$work/bus/address" ]; do sleep 0.05; done
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/bus/socket"

# The example app's manifest, pointing at the built binaries.
sed -e "s|/usr/bin/devbg-example-app|$build/examples/devbg-example-app|" \
    -e "s|/usr/libexec/devbg/devbg-example-tasks|$build/examples/devbg-example-tasks|" \
    "$src/data/manifests/org.devbg.ExampleApp.xml" > "$work/manifests/org.devbg.ExampleApp.xml"
cp "$src/data/metadata/"*.xml "$work/metadata/"
# The demo's bus has no logind and no consent agent: the foreground row is
# off and consent is answered "allow" (HeadlessConsent), which devbgd logs.
printf '[Service]\nEnableVirtualBackend=true\n[Policy]\nRequireForeground=false\nHeadlessConsent=allow\n' \
	> "$work/devbgd.conf"

start_daemon() {
	"$build/src/daemon/devbgd" --bus-address "$DBUS_SYSTEM_BUS_ADDRESS" \
		--state-dir "$work/state" --manifest-dir "$work/manifests" \
		--metadata-dir "$work/metadata" --config "$work/devbgd.conf" \
		--flatpak-system-dir "$work/flatpak" --flatpak-home-dir "$work/flatpak-home" \
		>> "$work/devbgd.log" 2>&1 &
	daemon_pid=$!
	i=0
	until "$build/src/cli/devbgctl" status > /dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 200 ] || { cat "$work/devbgd.log"; exit 1; }
		sleep 0.05
	done
}

step "devbg-sim serves a fitness band and a USB dock; devbgd starts on a private system bus"
"$build/sim/devbg-sim" --bus-address "$DBUS_SYSTEM_BUS_ADDRESS" >> "$work/sim.log" 2>&1 &
sim_pid=$!
start_daemon
"$build/src/cli/devbgctl" status

step "the example app registers its sync and firmware-update tasks"
"$build/examples/devbg-example-app" register
"$build/examples/devbg-example-app" list

step "devbgd restarts: the registrations are still there"
kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true
start_daemon
"$build/examples/devbg-example-app" list

step "another program is no app: devbgd tells it so"
"$build/src/cli/devbgctl" registrations || true

step "devices: the simulated ones, and a band arriving and leaving"
sh "$src/scripts/demo-devices.sh" "$build" "$DBUS_SYSTEM_BUS_ADDRESS"

# A consent agent asks the person at the terminal; without one, it answers
# allow by itself and says so, so that the demo runs in a script too.
if [ -t 0 ] && [ -t 1 ] && [ -r /dev/tty ]; then
	step "a consent agent runs in this terminal: answer its prompts with y or n"
	"$build/src/cli/devbgctl" agent < /dev/tty &
else
	step "a consent agent runs (no terminal is attached: it answers allow by itself, and says so)"
	"$build/src/cli/devbgctl" agent --allow &
fi
agent_pid=$!
sleep 0.5

# Tasks never run as root: a root caller's task runs as TaskUserForRoot
# (devbg-task), so the example task's output directory must be writable by it.
mkdir -p "$work/.local/share/devbg-example-app"
if [ "$(id -u)" = 0 ]; then
	chown devbg-task "$work/.local/share/devbg-example-app"
fi

step "the example app syncs the fitness band in the background (DeviceUseTrigger): the agent asks first (run as root, its task runs as devbg-task)"
HOME="$work" "$build/examples/devbg-example-app" sync virtual-B0A1-0000

step "a second sync asks nothing: use consent is stored per user, app and device model"
HOME="$work" "$build/examples/devbg-example-app" sync virtual-B0A1-0000
"$build/src/cli/devbgctl" permissions

step "the example app updates the dock's firmware (DeviceServicingTrigger): asked every time, with warnings and the estimate; the dock resets and comes back"
"$build/src/cli/devbgctl" devices | grep -E 'ID|D0C1'
"$build/examples/devbg-example-app" update virtual-D0C1-0000 2.0.0
"$build/src/cli/devbgctl" devices | grep -E 'ID|D0C1'

step "what ran, as devbgctl history shows it"
"$build/src/cli/devbgctl" history

step "the person revokes the example app's consent: its next sync asks again"
"$build/src/cli/devbgctl" permissions revoke org.devbg.ExampleApp
"$build/src/cli/devbgctl" permissions

# The same app as a Flatpak, when flatpak can run here (as root, with user
# namespaces for bubblewrap).
if [ "$(id -u)" = 0 ] && command -v flatpak > /dev/null &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups bwrap --ro-bind / / --unshare-user true 2> /dev/null; then
	step "the example app as a Flatpak: built offline into a bundle and installed; devbgd reads the manifest it ships (/app/share/devbg) without a restart"
	mkdir -p "$work/flatpak"
	bundle=$(sh "$src/scripts/flatpak-example.sh" "$build" "$work/flatpak-build" | tail -n 1)
	FLATPAK_SYSTEM_DIR="$work/flatpak" flatpak remote-add --system --no-gpg-verify example "$work/flatpak-build/repo"
	FLATPAK_SYSTEM_DIR="$work/flatpak" flatpak install --system -y --noninteractive example \
		runtime/org.devbg.example.Platform/$(flatpak --default-arch)/1 > /dev/null
	FLATPAK_SYSTEM_DIR="$work/flatpak" flatpak install --system -y --noninteractive --bundle "$bundle" > /dev/null
	FLATPAK_SYSTEM_DIR="$work/flatpak" flatpak list --system --app --columns=application,branch,active
	sleep 0.5

	step "the Flatpak app, run by nobody, syncs the band from inside its sandbox; its task runs in a new instance of the sandbox (the band has no records left since the host app's sync: 0 is right)"
	home="$work/flatpak-home/$(id -u nobody)"
	mkdir -p "$home"
	chmod 711 "$work/flatpak-home"
	chown nobody "$home"
	setpriv --reuid=nobody --regid=nogroup --clear-groups env -i HOME="$home" PATH=/usr/bin:/bin \
		FLATPAK_SYSTEM_DIR="$work/flatpak" flatpak run --system --no-a11y-bus \
		--env=DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" --filesystem="$work/bus" \
		org.devbg.ExampleApp sync virtual-B0A1-0000
else
	step "the example app as a Flatpak: skipped (needs root, flatpak and user namespaces)"
fi

step "the example app cleans up"
"$build/examples/devbg-example-app" clean
echo
echo "demo finished"
