#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Builds the Debian 12 packages from a copy of the source tree and checks
them: `dpkg-buildpackage -us -uc -b` succeeds, lintian finds no error, each
package holds what it should (the unit at systemd's path, the bus policy,
the man pages, the reference, the example app apart from the daemon), and
the unpacked packages work: Python finds Devbg-1.typelib and libdevbg.so.0
in them, and a C program builds against libdevbg-dev with pkg-config.

Not done here, and said so: installing the packages with dpkg into a chroot
or container (there is no debootstrap, mirror or container runtime on the
build machine, and installing into the running system would change it).

usage: check_debian.py SOURCE_DIR [B_SANITIZE]
Exit status 77 (skipped) when the packaging tools are missing."""

import os
import shutil
import subprocess
import sys
import tempfile

EXPECT = {
    'devbgd': ['./usr/libexec/devbgd', './lib/systemd/system/devbgd.service',
               './usr/share/dbus-1/system.d/org.devbg.Devbg1.conf',
               './usr/share/dbus-1/system-services/org.devbg.Devbg1.service',
               './usr/share/dbus-1/interfaces/org.devbg.Devbg1.xml',
               './etc/devbg/devbgd.conf', './usr/share/man/man8/devbgd.8.gz',
               './usr/lib/sysusers.d/devbgd.conf'],
    'libdevbg0': ['./usr/lib/x86_64-linux-gnu/libdevbg.so.0.2.0'],
    'libdevbg-dev': ['./usr/include/devbg-1/devbg.h', './usr/include/devbg-1/devbg-names.h',
                     './usr/include/devbg-1/devbg-enum-types.h',
                     './usr/lib/x86_64-linux-gnu/pkgconfig/devbg-1.pc',
                     './usr/share/gir-1.0/Devbg-1.gir', './usr/share/doc/devbg-1/index.html',
                     './usr/share/doc/devbg-1/class.Client.html'],
    'gir1.2-devbg-1': ['./usr/lib/x86_64-linux-gnu/girepository-1.0/Devbg-1.typelib'],
    'devbg-tools': ['./usr/bin/devbgctl', './usr/bin/devbg-sim',
                    './usr/share/man/man1/devbgctl.1.gz', './usr/share/man/man1/devbg-sim.1.gz',
                    './usr/share/man/man1/devbg-agent.1.gz'],
    'devbg-example': ['./usr/bin/devbg-example-app', './usr/libexec/devbg/devbg-example-tasks',
                      './usr/share/devbg/manifests/org.devbg.ExampleApp.xml',
                      './usr/share/devbg/metadata/devbg-sim-dock.xml',
                      './usr/share/doc/devbg-example/examples/python/devbg-example-app.py'],
}
# The example app and its manifest are the example's, never the daemon's.
NOT_IN_DAEMON = ('manifests', 'metadata', 'example')

def maintainer_script_problems(deb, control):
    """What devbgd's maintainer scripts get wrong: an upgrade must not
    restart devbgd under a running firmware update, a purge removes its
    state, and the task user is made without systemd-sysusers too."""
    run(['dpkg-deb', '-e', deb, control], check=True)

    def script(name):
        path = os.path.join(control, name)
        return open(path).read() if os.path.exists(path) else ''
    postinst, postrm, prerm = script('postinst'), script('postrm'), script('prerm')
    problems = []
    if 'deb-systemd-invoke stop' in prerm and '"$1" = remove' not in prerm:
        problems.append('devbgd prerm stops the service on upgrade')
    if 'deb-systemd-invoke restart' in postinst or '_dh_action=restart' in postinst:
        problems.append('devbgd postinst restarts the service on upgrade')
    if 'rm -rf /var/lib/devbg ' not in postrm:
        problems.append('devbgd postrm does not remove /var/lib/devbg on purge')
    if 'useradd --system' not in postinst or 'systemd-sysusers devbgd.conf' not in postinst:
        problems.append('devbgd postinst does not make devbg-task with and without sysusers')
    return problems


C_PROGRAM = '''#include <devbg.h>
int main (void)
{
  g_autoptr(DevbgTrigger) t = devbg_use_trigger_new ();
  return devbg_trigger_get_trigger_type (t) == DEVBG_TRIGGER_USE &&
         DEVBG_TASK_DEVICE_FD == 3 ? 0 : 1;
}
'''


def run(cmd, **kw):
    print('+ ' + ' '.join(cmd), flush=True)
    return subprocess.run(cmd, **kw)


def copy_tree(src, dst):
    files = subprocess.run(['git', '-C', src, 'ls-files', '--cached', '--others',
                            '--exclude-standard', '-z'], check=True,
                           capture_output=True).stdout.split(b'\0')
    for f in files:
        f = f.decode()
        if not f or f.startswith(('build', 'obj-')) or not os.path.exists(os.path.join(src, f)):
            continue
        os.makedirs(os.path.dirname(os.path.join(dst, f)) or dst, exist_ok=True)
        shutil.copy2(os.path.join(src, f), os.path.join(dst, f), follow_symlinks=False)


def main():
    if len(sys.argv) > 2 and sys.argv[2] not in ('', 'none'):
        print('SKIP: sanitizer build (%s): the packages are built from the sources, with '
              'their own flags: checked once, in the normal build' % sys.argv[2])
        return 77
    src = os.path.abspath(sys.argv[1])
    missing = [t for t in ('dpkg-buildpackage', 'dh', 'lintian', 'dh_girepository')
               if shutil.which(t) is None]
    if missing:
        print('SKIP: no %s here (install debhelper, lintian, gobject-introspection)'
              % ', '.join(missing))
        return 77
    problems = []
    with tempfile.TemporaryDirectory(prefix='devbg-deb-') as tmp:
        tree = os.path.join(tmp, 'devbg')
        copy_tree(src, tree)
        env = dict(os.environ, DEB_BUILD_OPTIONS='nocheck')
        # The unit and lib suites run in `make check` already: nocheck.
        r = run(['nice', 'dpkg-buildpackage', '-us', '-uc', '-b'], cwd=tree, env=env,
                capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout[-4000:], r.stderr[-4000:])
            print('FAIL: dpkg-buildpackage exited %d' % r.returncode)
            return 1
        r = run(['lintian', '--fail-on', 'error', '--tag-display-limit', '0',
                 os.path.join(tmp, 'devbg_0.2.0_amd64.changes')], capture_output=True, text=True)
        print(r.stdout, end='')
        if r.returncode != 0 or any(line.startswith('E: ') for line in r.stdout.splitlines()):
            problems.append('lintian reports errors')
        root = os.path.join(tmp, 'root')
        for pkg, paths in EXPECT.items():
            deb = os.path.join(tmp, '%s_0.2.0_amd64.deb' % pkg)
            if not os.path.exists(deb):
                problems.append('no package %s' % pkg)
                continue
            listing = run(['dpkg-deb', '-c', deb], capture_output=True, text=True,
                          check=True).stdout
            names = {line.split()[5] for line in listing.splitlines()}
            for p in paths:
                if p not in names:
                    problems.append('%s does not hold %s' % (pkg, p))
            if pkg == 'devbgd':
                for n in names:
                    if any(w in n for w in NOT_IN_DAEMON):
                        problems.append('devbgd holds %s, which is the example\'s' % n)
                problems += maintainer_script_problems(deb, os.path.join(tmp, 'devbgd-control'))
            run(['dpkg-deb', '-x', deb, root], check=True)

        libdir = os.path.join(root, 'usr', 'lib', 'x86_64-linux-gnu')
        env = dict(os.environ, GI_TYPELIB_PATH=os.path.join(libdir, 'girepository-1.0'),
                   LD_LIBRARY_PATH=libdir)
        r = run(['/usr/bin/python3', '-c',
                 "import gi; gi.require_version('Devbg', '1'); from gi.repository import Devbg;"
                 "print(Devbg.TriggerType.to_string(Devbg.TriggerType.SERVICING),"
                 " Devbg.__file__)"], env=env, capture_output=True, text=True)
        if r.returncode != 0 or not r.stdout.startswith('servicing '):
            problems.append('Python cannot use the unpacked typelib: %s' % r.stderr)
        cfile = os.path.join(tmp, 'app.c')
        with open(cfile, 'w') as f:
            f.write(C_PROGRAM)
        # devbg-1.pc as installed, its prefix moved to where it was unpacked
        # (glib's .pc files stay the system's).
        pcdir = os.path.join(tmp, 'pkgconfig')
        os.makedirs(pcdir)
        with open(os.path.join(libdir, 'pkgconfig', 'devbg-1.pc')) as f:
            pc = f.read()
        with open(os.path.join(pcdir, 'devbg-1.pc'), 'w') as f:
            f.write(pc.replace('prefix=/usr\n', 'prefix=%s/usr\n' % root, 1))
        env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
        flags = run(['pkg-config', '--cflags', '--libs', 'devbg-1'], env=env,
                    capture_output=True, text=True)
        exe = os.path.join(tmp, 'app')
        r = run(['cc', '-o', exe, cfile] + flags.stdout.split(), capture_output=True, text=True)
        if flags.returncode != 0 or r.returncode != 0:
            problems.append('a C program does not build against libdevbg-dev: %s %s'
                            % (flags.stderr, r.stderr))
        elif run([exe], env=dict(os.environ, LD_LIBRARY_PATH=libdir)).returncode != 0:
            problems.append('the C program built against libdevbg-dev fails')
    print('NOTE: the packages were unpacked and used, not installed with dpkg into a '
          'chroot or container: this machine has no debootstrap, mirror or container '
          'runtime for one, and installing into the running system would change it.')
    for p in problems:
        print('FAIL: ' + p)
    print('%d package(s) checked, %d problem(s)' % (len(EXPECT), len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
