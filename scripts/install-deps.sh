#!/bin/sh
# Installs the Debian packages that building, the demo and the tests need,
# only when one is missing. Used by `make demo`, `make check` and .ci/run.
set -eu

PACKAGES="meson ninja-build pkg-config gcc clang libclang-rt-14-dev
libglib2.0-dev libglib2.0-bin libsqlite3-dev libjson-glib-dev dbus python3-dbusmock python3-gi
gir1.2-glib-2.0 umockdev libumockdev-dev gir1.2-umockdev-1.0 libgudev-1.0-dev gir1.2-gudev-1.0 util-linux
procps flatpak busybox-static gobject-introspection libgirepository1.0-dev gi-docgen debhelper lintian"

# The user root callers' tasks run as (devbgd's TaskUserForRoot), as the
# package makes it (data/sysusers.d/devbgd.conf): the demo and the tests
# run apps as root. useradd, as systemd-sysusers may not be there.
if ! getent passwd devbg-task >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		echo "install-deps: adding the system user devbg-task (root callers' tasks run as it)"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "devbg tasks of root callers" devbg-task
	else
		echo "install-deps: no user devbg-task: root callers' tasks cannot run (run as root once)" >&2
	fi
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run as root, or install them with apt-get" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing </dev/null
