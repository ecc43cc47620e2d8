#!/bin/sh
# Builds the example vendor app (examples/) as a Flatpak, offline, with no
# Flathub runtime: a runtime made of the host libraries that the app and its
# task host need; the app with libdevbg bundled in /app/lib, its task host in
# /app/libexec and its devbg manifest at /app/share/devbg/org.devbg.ExampleApp.xml.
# Exports both to OUT_DIR/repo, and the app to the bundle
# OUT_DIR/org.devbg.ExampleApp.flatpak (install the runtime from the repo first).
#
#   flatpak-example.sh BUILD_DIR OUT_DIR
set -eu
build=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
app_id=org.devbg.ExampleApp
rt_id=org.devbg.example.Platform
arch=$(flatpak --default-arch)
app_exe="$build/examples/devbg-example-app"
tasks_exe="$build/examples/devbg-example-tasks"

# build-init finds the runtime in an installation: a private one.
export FLATPAK_SYSTEM_DIR="$out/build-installation"
rt="$out/runtime"
app="$out/app"
rm -rf "$rt" "$app"

# The runtime: every library the two programs load, at its host path below
# /usr (the runtime is the sandbox's /usr; /lib64 is a link to usr/lib64).
mkdir -p "$rt/files"
{ ldd "$app_exe"; ldd "$tasks_exe"; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	sort -u | while read -r lib; do
	case "$lib" in
	*/libdevbg.so*) continue ;; # the app's own, bundled with it
	esac
	dir=$(dirname "$lib")
	dir=${dir#/usr}
	mkdir -p "$rt/files$dir"
	cp -L "$lib" "$rt/files$dir/"
done
printf '[Runtime]\nname=%s\nruntime=%s/%s/1\nsdk=%s/%s/1\n' "$rt_id" "$rt_id" "$arch" "$rt_id" "$arch" \
	> "$rt/metadata"
flatpak build-export --runtime --files=files "$out/repo" "$rt" 1 > /dev/null
flatpak remote-add --system --if-not-exists --no-gpg-verify build "$out/repo"
flatpak install --system -y --noninteractive --or-update build "runtime/$rt_id/$arch/1" > /dev/null

# The app.
flatpak build-init "$app" "$app_id" "$rt_id" "$rt_id" 1
mkdir -p "$app/files/bin" "$app/files/libexec" "$app/files/lib" "$app/files/share/devbg"
cp "$app_exe" "$app/files/bin/"
cp "$tasks_exe" "$app/files/libexec/"
cp -L "$build/lib/libdevbg.so.0" "$app/files/lib/"
# Its manifest names its programs by their paths in the sandbox; a Flatpak
# app is known by its sandbox, so <Application> names no Executable.
sed -e 's| Executable="/usr/bin/devbg-example-app"||' \
    -e 's|/usr/libexec/devbg/devbg-example-tasks|/app/libexec/devbg-example-tasks|' \
    "$src/data/manifests/$app_id.xml" > "$app/files/share/devbg/$app_id.xml"
flatpak build-finish --command=devbg-example-app "$app" > /dev/null
flatpak build-export "$out/repo" "$app" stable > /dev/null
flatpak build-bundle "$out/repo" "$out/$app_id.flatpak" "$app_id" stable
echo "$out/$app_id.flatpak"
