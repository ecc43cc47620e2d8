# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Who a caller is, and what cannot make it someone else: identity fixed
when the connection is made, .flatpak-info forged in a user namespace,
manifests that claim the same executable or app ID or an interpreter, and
manifests installed and removed while devbgd runs."""
import os
import shutil
import subprocess
import textwrap
import unittest

from devbgtest import (DevbgTestCase, Devbgd, DevbgSim, TestApp, manifest_xml, wait_for,
                       SOURCE_DIR, BUILD_DIR)

TEST_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-test-task')
BAND = 'virtual-B0A1-0000'

HOST = '/usr/libexec/devbg-test/tasks'
ERR = 'org.devbg.Devbg1.Error.'
NOBODY = 65534
AS_NOBODY = ['setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups']

# The attack of "exec after connect": this process opens the bus connection
# (the bus records its pid), hands the socket to a child, and then executes
# the app's executable, so that its pid now shows the app. The child makes
# calls on the connection. Raw D-Bus until the fork, so that no GLib thread
# exists when the process forks.
BORROWER = textwrap.dedent(r'''
    import os, socket, struct, sys, time

    bus_path, app, mode = sys.argv[1], sys.argv[2], sys.argv[3]

    def pad(b, n):
        return b + b'\0' * ((-len(b)) % n)

    def hello():
        fields = b''
        for code, sig, value in ((1, 'o', '/org/freedesktop/DBus'), (2, 's', 'org.freedesktop.DBus'),
                                 (3, 's', 'Hello'), (6, 's', 'org.freedesktop.DBus')):
            v = value.encode()
            fields = pad(fields, 8) + bytes([code, 1]) + sig.encode() + b'\0'
            fields += struct.pack('<I', len(v)) + v + b'\0'
        return pad(struct.pack('<cBBBIII', b'l', 1, 0, 1, 0, 1, len(fields)) + fields, 8)

    def recv_exactly(s, n):
        data = b''
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                raise SystemExit('bus closed')
            data += chunk
        return data

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(bus_path)
    s.sendall(b'\0AUTH EXTERNAL ' + str(os.getuid()).encode().hex().encode() + b'\r\n')
    line = b''
    while not line.endswith(b'\r\n'):
        line += s.recv(1)
    assert line.startswith(b'OK '), line
    s.sendall(b'BEGIN\r\n' + hello())
    # Exactly the Hello reply; the rest stays for the child's GDBus.
    head = recv_exactly(s, 16)
    body_len, fields_len = struct.unpack('<I', head[4:8])[0], struct.unpack('<I', head[12:16])[0]
    recv_exactly(s, fields_len + ((-fields_len) % 8) + body_len)

    ready_r, ready_w = os.pipe()
    if mode == 'wait':
        time.sleep(0.5)  # devbgd has seen the connection appear
    pid = os.fork()
    if pid != 0:
        # The connecting process: wait for the child's go, then become the app.
        os.close(ready_w)
        os.read(ready_r, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(app, [app, '30'])

    from gi.repository import Gio, GLib

    def call(conn, method, args, reply):
        try:
            r = conn.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager',
                               method, args, GLib.VariantType(reply), Gio.DBusCallFlags.NONE,
                               10000, None)
            return 'OK ' + str(r.unpack()[0])
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e)
            Gio.DBusError.strip_remote_error(e)
            return 'ERROR %s %s' % (name, e.message)

    conn = Gio.DBusConnection.new_sync(
        Gio.Socket.new_from_fd(os.dup(s.fileno())).connection_factory_create_connection(),
        None, Gio.DBusConnectionFlags.NONE, None, None)
    if mode == 'call-first':
        r = call(conn, 'GetStatus', None, '(a{sv})')
        print('FIRST ' + r.replace('\n', ' '), flush=True)
    os.write(ready_w, b'x')
    parent = os.getppid()
    deadline = time.monotonic() + 10
    while os.readlink('/proc/%d/exe' % parent) != app and time.monotonic() < deadline:
        time.sleep(0.01)
    print('EXE ' + os.readlink('/proc/%d/exe' % parent), flush=True)
    print('REGISTER ' + call(conn, 'Register', GLib.Variant('(sss)', ('x', 'F.Sync', 'use')), '(s)'),
          flush=True)
''')


def status_of(lines):
    return dict(l.split('=', 1) for l in lines[1:])


class ExecAfterConnectTest(DevbgTestCase):
    """A connection keeps the identity of the program that made it."""
    APP = 'org.devbg.test.Borrowed'

    def setUp(self):
        super().setUp()
        apps = os.path.join(self.tmpdir, 'apps')
        os.makedirs(apps, exist_ok=True)
        os.chmod(apps, 0o755)
        # The app's executable: a program that just stays alive (sleep).
        self.app_exe = os.path.join(apps, 'borrowed-app')
        shutil.copy2(shutil.which('sleep'), self.app_exe)
        self.devbgd.write_manifest('borrowed.xml', manifest_xml(self.APP, self.app_exe, [
            ('F.Sync', ['deviceUse'], HOST)]))
        self.script = os.path.join(self.tmpdir, 'borrower.py')
        with open(self.script, 'w') as f:
            f.write(BORROWER)
        os.chmod(self.script, 0o644)
        self.devbgd.start()

    def borrow(self, mode):
        proc = subprocess.Popen(AS_NOBODY + ['/usr/bin/python3', self.script, self.bus.socket,
                                             self.app_exe, mode],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.bus.env())
        try:
            out = proc.stdout.read()  # until the child exits
        finally:
            proc.kill()
            proc.wait(10)
        lines = dict(l.split(' ', 1) for l in out.splitlines() if ' ' in l)
        self.assertIn('REGISTER', lines, out + proc.stderr.read())
        # The attack did happen: the connecting pid showed the app's executable.
        self.assertEqual(lines['EXE'], self.app_exe)
        return lines

    def test_exec_after_connect_refused(self):
        lines = self.borrow('wait')
        self.assertTrue(lines['REGISTER'].startswith('ERROR ' + ERR + 'IdentityChanged'),
                        lines['REGISTER'])
        self.assertIn('has executed %s since' % self.app_exe, lines['REGISTER'])
        self.assertIn('refused Register', self.devbgd.read_log())

    def test_exec_after_first_call_refused(self):
        # An unknown caller is fixed as unknown: no second chance to be resolved.
        lines = self.borrow('call-first')
        self.assertTrue(lines['FIRST'].startswith('OK '), lines['FIRST'])
        self.assertIn("'app-id': ''", lines['FIRST'])
        self.assertTrue(lines['REGISTER'].startswith('ERROR ' + ERR + 'IdentityChanged'),
                        lines['REGISTER'])

    def test_genuine_connection_unaffected(self):
        # The same app, connecting itself, is that app.
        app = TestApp(self.tmpdir, 'genuine')
        self.devbgd.write_manifest('genuine.xml', manifest_xml('org.devbg.test.Genuine', app.path, [
            ('G.Sync', ['deviceUse'], HOST)]))
        wait_for(lambda: status_of(app.ok(self.bus, 'status'))['app-id'] == 'org.devbg.test.Genuine',
                 what='the new manifest to load')
        app.ok(self.bus, 'register', 'sync', 'G.Sync', 'use')
        self.assertEqual(len(app.ok(self.bus, 'list')) - 1, 1)


class ForgedFlatpakInfoTest(DevbgTestCase):
    """A .flatpak-info that the caller could have made itself is refused."""
    APP = 'org.devbg.test.Sandboxed'

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('needs root for setpriv and mount namespaces')
        self.app = TestApp(self.tmpdir, 'sandboxed')
        # No Executable: only a .flatpak-info can make a process this app.
        self.devbgd.write_manifest('s.xml', manifest_xml(self.APP, None, [
            ('S.Sync', ['deviceUse'], HOST)]))
        self.root = os.path.join(self.tmpdir, 'sandbox')
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.devbgd.start()

    def chroot_script(self, make_root):
        """A shell script that builds a root at self.root with @make_root
        (which writes .flatpak-info), binds what the client needs, and
        runs "$@" chrooted there."""
        lines = ['set -e', 'root="%s"' % self.root] + make_root
        for entry in ('usr', 'etc', 'proc', 'dev', 'bin', 'sbin', 'lib', 'lib64'):
            src = '/' + entry
            if os.path.islink(src):
                lines.append('[ -e "$root/%s" ] || ln -s "%s" "$root/%s"' % (entry, os.readlink(src), entry))
            elif os.path.isdir(src):
                lines.append('mkdir -p "$root/%s" && mount --rbind "%s" "$root/%s"' % (entry, src, entry))
        lines.append('mkdir -p "$root%s" && mount --bind "%s" "$root%s"' % (self.tmpdir, self.tmpdir,
                                                                           self.tmpdir))
        return lines

    def status(self, prefix):
        return status_of(self.app.ok(self.bus, 'status', prefix=prefix))

    def forged_prefix(self, read_only):
        # What any unprivileged user can do: its own user and mount
        # namespace (root inside), a tmpfs root holding a .flatpak-info.
        make_root = ['mount -t tmpfs -o mode=755 devbg-forged "$root"',
                     'printf "[Application]\\nname=%s\\n" > "$root/.flatpak-info"' % self.APP]
        script = self.chroot_script(make_root)
        if read_only:
            script.append('mount -o remount,bind,ro "$root"')
        script.append('exec chroot "$root" "$@"')
        return AS_NOBODY + ['unshare', '-Urm', 'sh', '-c', '\n'.join(script), 'sh']

    def assert_refused(self, prefix, why):
        st = self.status(prefix)
        self.assertEqual(st['app-id'], '')
        self.assertEqual(st['identity'], 'none')
        self.assertEqual(st['uid'], str(NOBODY))
        name, _ = self.app.error(self.bus, 'register', 'x', 'S.Sync', 'use', prefix=prefix)
        self.assertEqual(name, ERR + 'UnknownApp')
        log = self.devbgd.read_log()
        self.assertIn('is refused as a Flatpak app', log)
        self.assertIn(why, log)

    def test_forged_in_user_namespace_refused(self):
        self.assert_refused(self.forged_prefix(read_only=False),
                            'is on a writable mount; Flatpak mounts it read-only')

    def test_forged_read_only_in_user_namespace_refused(self):
        # Read-only does not help a forger that is root in its own namespace.
        self.assert_refused(self.forged_prefix(read_only=True),
                            'is uid 0 inside its own user namespace (uid %d outside)' % NOBODY)

    def test_forged_symlink_refused(self):
        # A .flatpak-info that points elsewhere is never followed.
        make_root = ['mount -t tmpfs -o mode=755 devbg-forged "$root"',
                     'printf "[Application]\\nname=%s\\n" > "$root/info"' % self.APP,
                     'ln -s /info "$root/.flatpak-info"',
                     'mount -o remount,bind,ro "$root"']
        script = self.chroot_script(make_root[:3]) + [make_root[3], 'exec chroot "$root" "$@"']
        prefix = AS_NOBODY + ['unshare', '-Urm', 'sh', '-c', '\n'.join(script), 'sh']
        self.assert_refused(prefix, 'is a symbolic link, which is never followed')

    def test_genuine_read_only_bind_accepted(self):
        # As Flatpak does it: the file a read-only bind mount made with
        # privilege, the app running as the user, unprivileged.
        info = os.path.join(self.root, '.flatpak-info')
        with open(info, 'w') as f:
            f.write(self.devbgd.fake_flatpak_deployment(self.APP))
        make_root = ['mount --bind "$root/.flatpak-info" "$root/.flatpak-info"',
                     'mount -o remount,bind,ro "$root/.flatpak-info"']
        script = self.chroot_script(make_root)
        script.append('exec chroot --userspec=%d:%d "$root" "$@"' % (NOBODY, NOBODY))
        prefix = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', '\n'.join(script), 'sh']
        st = self.status(prefix)
        self.assertEqual(st['app-id'], self.APP)
        self.assertEqual(st['identity'], 'flatpak')
        self.assertEqual(st['uid'], str(NOBODY))
        self.app.ok(self.bus, 'register', 'sync', 'S.Sync', 'use', prefix=prefix)


class AmbiguousManifestTest(DevbgTestCase):
    """An executable identifies at most one app, and never an interpreter."""

    def setUp(self):
        super().setUp()
        self.app = TestApp(self.tmpdir, 'app')
        self.other = TestApp(self.tmpdir, 'other')

    def test_same_executable_refused_both(self):
        self.devbgd.write_manifest('1-first.xml', manifest_xml('org.devbg.test.First', self.app.path, [
            ('A.Sync', ['deviceUse'], HOST)]))
        self.devbgd.write_manifest('2-second.xml', manifest_xml('org.devbg.test.Second', self.app.path, [
            ('A.Sync', ['deviceUse'], HOST)]))
        self.devbgd.write_manifest('3-other.xml', manifest_xml('org.devbg.test.Other', self.other.path, [
            ('O.Sync', ['deviceUse'], HOST)]))
        self.devbgd.start()
        st = status_of(self.app.ok(self.bus, 'status'))
        self.assertEqual(st['app-id'], '')  # neither one wins
        self.assertEqual(st['manifests'], '1')
        name, _ = self.app.error(self.bus, 'register', 'x', 'A.Sync', 'use')
        self.assertEqual(name, ERR + 'UnknownApp')
        self.other.ok(self.bus, 'register', 'x', 'O.Sync', 'use')
        log = self.devbgd.read_log()
        first = os.path.join(self.devbgd.manifest_dir, '1-first.xml')
        second = os.path.join(self.devbgd.manifest_dir, '2-second.xml')
        self.assertIn('%s: app org.devbg.test.First claims Executable %s, which %s (app '
                      'org.devbg.test.Second) also claims' % (first, self.app.path, second), log)
        self.assertIn('%s: app org.devbg.test.Second claims Executable' % second, log)

    def test_same_app_id_refused_both(self):
        self.devbgd.write_manifest('1-a.xml', manifest_xml('org.devbg.test.Twice', self.app.path, [
            ('A.Sync', ['deviceUse'], HOST)]))
        self.devbgd.write_manifest('2-b.xml', manifest_xml('org.devbg.test.Twice', self.other.path, [
            ('B.Sync', ['deviceUse'], HOST)]))
        self.devbgd.start()
        for app in (self.app, self.other):
            self.assertEqual(status_of(app.ok(self.bus, 'status'))['app-id'], '')
        log = self.devbgd.read_log()
        self.assertIn('1-a.xml: app ID org.devbg.test.Twice is also declared by %s'
                      % os.path.join(self.devbgd.manifest_dir, '2-b.xml'), log)
        self.assertIn('none of them is loaded', log)

    def test_interpreter_refused(self):
        python = os.path.realpath('/usr/bin/python3')
        self.devbgd.write_manifest('py.xml', manifest_xml('org.devbg.test.Py', '/usr/bin/python3', [
            ('P.Sync', ['deviceUse'], HOST)]))
        self.devbgd.write_manifest('sh.xml', manifest_xml('org.devbg.test.Sh', '/bin/sh', [
            ('P.Sync', ['deviceUse'], HOST)]))
        self.devbgd.start()
        log = self.devbgd.read_log()
        self.assertIn('py.xml: app org.devbg.test.Py names Executable /usr/bin/python3, but', log)
        self.assertIn('is the python interpreter', log)
        self.assertIn('sh.xml: app org.devbg.test.Sh names Executable /bin/sh', log)
        self.assertIn('identify it by its systemd unit or Flatpak ID', log)
        # A Python program is not taken for the app.
        status = subprocess.run([python, '-c', textwrap.dedent('''
            from gi.repository import Gio, GLib
            bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
            r = bus.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager',
                              'GetStatus', None, GLib.VariantType('(a{sv})'), 0, 10000, None)
            s = r.unpack()[0]
            print(repr(s['app-id']), s['manifests'])
        ''')], env=self.bus.env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(status.stdout.strip(), "'' 0", status.stderr)


class ReloadTest(DevbgTestCase):
    """Manifests and metadata installed, changed or removed while devbgd
    runs take effect without a restart."""

    def test_manifest_installed_then_removed(self):
        app = TestApp(self.tmpdir, 'late')
        self.devbgd.start()
        name, _ = app.error(self.bus, 'register', 'x', 'L.Sync', 'use')
        self.assertEqual(name, ERR + 'UnknownApp')
        # Installed as packages do: written aside, renamed into place.
        tmp = os.path.join(self.devbgd.manifest_dir, '.late.xml.tmp')
        with open(tmp, 'w') as f:
            f.write(manifest_xml('org.devbg.test.Late', app.path, [('L.Sync', ['deviceUse'], HOST)]))
        os.rename(tmp, os.path.join(self.devbgd.manifest_dir, 'late.xml'))
        wait_for(lambda: app.run(self.bus, 'register', 'x', 'L.Sync', 'use')[0].startswith('OK'),
                 timeout=5, what='the installed manifest to take effect')
        self.assertIn('app org.devbg.test.Late: manifest %s loaded'
                      % os.path.join(self.devbgd.manifest_dir, 'late.xml'), self.devbgd.read_log())
        os.unlink(os.path.join(self.devbgd.manifest_dir, 'late.xml'))
        wait_for(lambda: app.run(self.bus, 'register', 'y', 'L.Sync', 'use')[0].startswith(
            'ERROR ' + ERR + 'UnknownApp'), timeout=5, what='the removed manifest to take effect')
        self.assertIn('app org.devbg.test.Late: no manifest any more', self.devbgd.read_log())

    def test_manifest_changed_and_conflict_added(self):
        app = TestApp(self.tmpdir, 'changing')
        self.devbgd.write_manifest('c.xml', manifest_xml('org.devbg.test.Changing', app.path, [
            ('C.Sync', ['deviceUse'], HOST)]))
        self.devbgd.start()
        name, _ = app.error(self.bus, 'register', 'x', 'C.Update', 'servicing')
        self.assertEqual(name, ERR + 'EntryPointNotDeclared')
        # An update declares a new entry point.
        self.devbgd.write_manifest('c.xml', manifest_xml('org.devbg.test.Changing', app.path, [
            ('C.Sync', ['deviceUse'], HOST), ('C.Update', ['deviceServicing'], HOST)]))
        wait_for(lambda: app.run(self.bus, 'register', 'x', 'C.Update', 'servicing')[0].startswith('OK'),
                 timeout=5, what='the changed manifest to take effect')
        # Another package claims the same executable: both are refused, loudly.
        self.devbgd.write_manifest('d.xml', manifest_xml('org.devbg.test.Claimer', app.path, [
            ('C.Sync', ['deviceUse'], HOST)]))
        wait_for(lambda: status_of(app.ok(self.bus, 'status'))['app-id'] == '', timeout=5,
                 what='the conflict to take effect')
        self.assertIn('also claims; an executable identifies one app', self.devbgd.read_log())

    def test_metadata_installed(self):
        app = TestApp(self.tmpdir, 'meta')
        self.devbgd.start()
        self.assertEqual(status_of(app.ok(self.bus, 'status'))['metadata'], '0')
        self.devbgd.write_metadata('m.xml', '<DeviceMetadata><HardwareIds><HardwareId>USB\\VID_1209'
                                   '&amp;PID_0001</HardwareId></HardwareIds><SoftwareInfo>'
                                   '<PrivilegedApplications><AnyApplication/></PrivilegedApplications>'
                                   '</SoftwareInfo></DeviceMetadata>')
        wait_for(lambda: status_of(app.ok(self.bus, 'status'))['metadata'] == '1', timeout=5,
                 what='the metadata to load')


def unit_bounding_set():
    """The CapabilityBoundingSet of devbgd's systemd unit, for setpriv."""
    with open(os.path.join(SOURCE_DIR, 'data', 'devbgd.service.in')) as f:
        for line in f:
            if line.startswith('CapabilityBoundingSet='):
                caps = line.split('=', 1)[1].split()
                return '-all,' + ','.join('+' + c[len('CAP_'):].lower() for c in caps)
    raise AssertionError('the unit sets no CapabilityBoundingSet')


class UnitDevbgd(Devbgd):
    """devbgd with only the capabilities its systemd unit leaves it."""

    def args(self):
        return ['setpriv', '--bounding-set=' + unit_bounding_set()] + super().args()


class UnitCapabilitiesTest(DevbgTestCase):
    """Identity works with the unit's capabilities: reading another user's
    /proc/PID/exe and /proc/PID/root takes CAP_SYS_PTRACE."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('needs root to drop capabilities')
        self.devbgd = UnitDevbgd(self.bus, self.tmpdir)
        self.app = TestApp(self.tmpdir, 'app')
        self.devbgd.write_manifest('a.xml', manifest_xml('org.devbg.test.Unit', self.app.path, [
            ('U.Sync', ['deviceUse'], HOST)]))
        self.devbgd.start()

    def test_other_user_identified_by_executable(self):
        st = status_of(self.app.ok(self.bus, 'status', user=NOBODY))
        self.assertEqual((st['app-id'], st['identity']), ('org.devbg.test.Unit', 'executable'))
        self.app.ok(self.bus, 'register', 'sync', 'U.Sync', 'use', user=NOBODY)


class UnitSpawnTest(DevbgTestCase):
    """A task starts under the unit's capabilities: the child drops the
    capability bounding set and sets securebits, which take CAP_SETPCAP
    (an administrator's review found every request spawn-failed under
    the shipped unit, which lacked it; the tests ran with all)."""
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCpuFloorMs=0\nIoActivityWindow=100\n')

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('needs root to drop capabilities')
        self.sim = DevbgSim(self.bus, self.tmpdir).start()
        self.addCleanup(self.sim.stop)
        task, = self.copy_tasks(TEST_TASK)
        self.devbgd = UnitDevbgd(self.bus, self.tmpdir, self.config)
        self.app = TestApp(self.tmpdir, 'app')
        self.devbgd.write_manifest('a.xml', manifest_xml('org.devbg.test.Unit', self.app.path, [
            ('Test.Progress', ['deviceUse'], task)]))
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band')

    def test_task_of_another_user_runs(self):
        tid = self.app.ok(self.bus, 'register', 'sync', 'Test.Progress', 'use',
                          user=NOBODY)[0].split()[1]
        lines = self.app.run(self.bus, 'run', tid, BAND, 'count=1', 0, user=NOBODY)
        self.assertTrue(lines[0].startswith('RESULT 0 allowed'), lines + [self.devbgd.read_log()[-1500:]])
        done = [l for l in lines if l.startswith('COMPLETED ')]
        self.assertEqual(len(done), 1, lines)
        self.assertEqual(done[0].split()[3], '1', lines)


if __name__ == '__main__':
    unittest.main()
