# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""devbgd's registrations, identity, manifests, metadata and config, against
the real service on a private system bus."""
import json
import os
import subprocess
import unittest

from devbgtest import DevbgTestCase, TestApp, manifest_xml, DEVBGD

APP_A = 'org.devbg.test.AppA'
APP_B = 'org.devbg.test.AppB'
HOST = '/usr/libexec/devbg-test/tasks'
ERR = 'org.devbg.Devbg1.Error.'


class RegistrationTest(DevbgTestCase):
    def setUp(self):
        super().setUp()
        self.app_a = TestApp(self.tmpdir, 'app-a')
        self.app_b = TestApp(self.tmpdir, 'app-b')
        self.devbgd.write_manifest('a.xml', manifest_xml(APP_A, self.app_a.path, [
            ('A.Sync', ['deviceUse'], HOST), ('A.Update', ['deviceServicing'], HOST)]))
        self.devbgd.write_manifest('b.xml', manifest_xml(APP_B, self.app_b.path, [
            ('B.Sync', ['deviceUse'], HOST)]))
        self.devbgd.start()

    def list(self, app, user=None):
        lines = app.ok(self.bus, 'list', user=user)
        return {l.split(' ')[0]: l.split(' ', 3)[1:] for l in lines[1:]}

    def test_register_list_unregister(self):
        tid = self.app_a.ok(self.bus, 'register', 'sync', 'A.Sync', 'use')[0].split()[1]
        tid2 = self.app_a.ok(self.bus, 'register', 'fw', 'A.Update', 'servicing')[0].split()[1]
        regs = self.list(self.app_a)
        self.assertEqual(regs[tid], ['use', 'A.Sync', 'sync'])
        self.assertEqual(regs[tid2], ['servicing', 'A.Update', 'fw'])
        self.app_a.ok(self.bus, 'unregister', tid, 'cancel')
        self.assertEqual(list(self.list(self.app_a)), [tid2])
        name, _ = self.app_a.error(self.bus, 'unregister', tid)
        self.assertEqual(name, ERR + 'NoSuchRegistration')

    def test_persists_across_restart(self):
        tid = self.app_a.ok(self.bus, 'register', 'sync', 'A.Sync', 'use')[0].split()[1]
        self.assertEqual(self.devbgd.stop(), 0)
        self.devbgd.start()
        self.assertEqual(self.list(self.app_a), {tid: ['use', 'A.Sync', 'sync']})

    def test_persists_across_kill(self):
        # Durable before the call returns: even SIGKILL right after loses nothing.
        tid = self.app_a.ok(self.bus, 'register', 'sync', 'A.Sync', 'use')[0].split()[1]
        self.devbgd.kill()
        self.devbgd.start()
        self.assertIn(tid, self.list(self.app_a))

    def test_undeclared_entry_point_refused(self):
        name, line = self.app_a.error(self.bus, 'register', 'x', 'A.Nope', 'use')
        self.assertEqual(name, ERR + 'EntryPointNotDeclared')
        self.assertIn('A.Nope', line)
        # Another app's entry point is not declared in this app's manifest.
        name, _ = self.app_a.error(self.bus, 'register', 'x', 'B.Sync', 'use')
        self.assertEqual(name, ERR + 'EntryPointNotDeclared')
        self.assertEqual(self.list(self.app_a), {})

    def test_wrong_trigger_type_refused(self):
        name, line = self.app_a.error(self.bus, 'register', 'x', 'A.Sync', 'servicing')
        self.assertEqual(name, ERR + 'WrongTriggerType')
        self.assertIn('deviceUse', line)
        name, _ = self.app_a.error(self.bus, 'register', 'x', 'A.Update', 'use')
        self.assertEqual(name, ERR + 'WrongTriggerType')
        self.assertEqual(self.list(self.app_a), {})

    def test_apps_are_isolated(self):
        ta = self.app_a.ok(self.bus, 'register', 'sync', 'A.Sync', 'use')[0].split()[1]
        tb = self.app_b.ok(self.bus, 'register', 'sync', 'B.Sync', 'use')[0].split()[1]
        self.assertEqual(list(self.list(self.app_a)), [ta])
        self.assertEqual(list(self.list(self.app_b)), [tb])
        # B cannot unregister A's task, and learns nothing about it.
        name, _ = self.app_b.error(self.bus, 'unregister', ta, 'cancel')
        self.assertEqual(name, ERR + 'NoSuchRegistration')
        self.assertEqual(list(self.list(self.app_a)), [ta])

    def test_unknown_caller_refused(self):
        stranger = TestApp(self.tmpdir, 'stranger')
        name, line = stranger.error(self.bus, 'register', 'x', 'A.Sync', 'use')
        self.assertEqual(name, ERR + 'UnknownApp')
        self.assertIn('not a known app', line)
        name, _ = stranger.error(self.bus, 'list')
        self.assertEqual(name, ERR + 'UnknownApp')

    def test_bad_arguments(self):
        tid = self.app_a.ok(self.bus, 'register', 'sync', 'A.Sync', 'use')[0].split()[1]
        cases = [
            ('Register', '("", "A.Sync", "use")', 'InvalidArgument'),
            ('Register', '("%s", "A.Sync", "use")' % ('n' * 256), 'InvalidArgument'),
            ('Register', '("bad\\nname", "A.Sync", "use")', 'InvalidArgument'),
            ('Register', '("x", "", "use")', 'InvalidArgument'),
            ('Register', '("x", "A.Sync", "sometimes")', 'InvalidArgument'),
            ('Register', '("x", "A.Sync", "")', 'InvalidArgument'),
            ('Unregister', '("not-a-uuid", true)', 'InvalidArgument'),
            ('Unregister', '("%s", true)' % 'f' * 1, 'InvalidArgument'),
            ('Unregister', '("00000000-0000-4000-8000-000000000000", false)', 'NoSuchRegistration'),
        ]
        for method, args, err in cases:
            name, line = self.app_a.error(self.bus, 'call', method, args)
            self.assertEqual(name, ERR + err, '%s%s: %s' % (method, args, line))
        # Wrong types and counts are refused by the bus layer, by name.
        for method, args in [('Register', '("x", "A.Sync")'), ('Register', '(1, 2, 3)'),
                             ('Unregister', '("%s", "yes")' % tid), ('NoSuchMethod', '()')]:
            name, _ = self.app_a.error(self.bus, 'call', method, args)
            self.assertTrue(name.startswith('org.freedesktop.DBus.Error.'), name)
        # Nothing changed.
        self.assertEqual(list(self.list(self.app_a)), [tid])

    def test_quoted_arguments_are_cut_between_characters(self):
        # Each message quotes at most so many bytes of what the caller sent:
        # cut in the middle of 'é', it was no UTF-8, which GDBus refused as
        # an error's text (the caller got "[Invalid UTF-8]", devbgd's log a
        # GLib-CRITICAL at every such call).
        text = 'a' + '\u00e9' * 40
        cases = [('Register', '("x", "A.Sync", "%s")' % text, "trigger 'a" + '\u00e9' * 15 + "'"),
                 ('Unregister', '("%s", true)' % text, "task ID 'a" + '\u00e9' * 31 + "'"),
                 ('ListRegistrations', '("%s",)' % text, "continuation 'a" + '\u00e9' * 15 + "'"),
                 ('AcknowledgeEvents', '(["%s"],)' % text,
                  "event ID 'a" + '\u00e9' * 31 + "'")]
        for method, args, quoted in cases:
            name, line = self.app_a.error(self.bus, 'call', method, args)
            self.assertEqual(name, ERR + 'InvalidArgument', (method, line))
            self.assertIn(quoted, line, method)
        self.assertNotIn('CRITICAL', self.devbgd.read_log())

    def test_registration_limit(self):
        self.devbgd.stop()
        self.devbgd.write_config('[Service]\nMaxRegistrationsPerApp=2\n')
        self.devbgd.start()
        self.app_a.ok(self.bus, 'register', 'a', 'A.Sync', 'use')
        self.app_a.ok(self.bus, 'register', 'b', 'A.Sync', 'use')
        name, _ = self.app_a.error(self.bus, 'register', 'c', 'A.Sync', 'use')
        self.assertEqual(name, ERR + 'LimitExceeded')
        self.assertEqual(len(self.list(self.app_a)), 2)

    def test_other_user_same_app(self):
        # The app's identity does not depend on the uid (the bus vouches for
        # it), but what it owns belongs to (user, app): root's copy of the
        # app neither sees nor removes nobody's registration.
        tid = self.app_a.ok(self.bus, 'register', 'sync', 'A.Sync', 'use', user=65534)[0].split()[1]
        status = self.app_a.ok(self.bus, 'status', user=65534)
        self.assertIn('uid=65534', status)
        self.assertNotIn(tid, self.list(self.app_a))
        self.assertIn(tid, self.list(self.app_a, user=65534))
        name, _ = self.app_a.error(self.bus, 'call', 'Unregister', '("%s", false)' % tid)
        self.assertEqual(name, ERR + 'NoSuchRegistration')
        self.assertIn(tid, self.list(self.app_a, user=65534))

    def test_devbgctl(self):
        r = self.devbgctl('status')
        self.assertIn('version', r.stdout)
        status = json.loads(self.devbgctl('--json', 'status').stdout)
        self.assertEqual(status['manifests'], 2)
        self.assertEqual(status['app-id'], '')  # devbgctl itself is no app
        r = self.devbgctl('registrations', check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn('not a known app', r.stderr)
        r = self.devbgctl('frobnicate', check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)


class IdentityTest(DevbgTestCase):
    """The app ID comes from the process, three ways."""

    def setUp(self):
        super().setUp()
        self.app = TestApp(self.tmpdir, 'app')
        # The manifest names no executable: only the cgroup or Flatpak can
        # make this process org.devbg.test.Scoped.
        self.devbgd.write_manifest('s.xml', manifest_xml('org.devbg.test.Scoped', None, [
            ('S.Sync', ['deviceUse'], HOST)]))
        self.devbgd.start()

    def status(self, **kw):
        lines = self.app.ok(self.bus, 'status', **kw)
        return dict(l.split('=', 1) for l in lines[1:])

    def test_unknown_without_unit(self):
        self.assertEqual(self.status()['app-id'], '')

    @staticmethod
    def cgroup2_root():
        with open('/proc/self/mountinfo') as f:
            for line in f:
                fields = line.split()
                sep = fields.index('-')
                if fields[sep + 1] == 'cgroup2':
                    return fields[4]
        return None

    def test_cgroup_app_scope(self):
        root = self.cgroup2_root()
        if root is None or not os.access(root, os.W_OK):
            self.skipTest('no writable cgroup v2 hierarchy')
        base = os.path.join(root, 'devbg-test-%d' % os.getpid())
        scope = os.path.join(base, 'app-gnome-org.devbg.test.Scoped-4242.scope')
        os.makedirs(scope)
        try:
            prefix = ['sh', '-c', 'echo $$ > "%s/cgroup.procs" && exec "$@"' % scope, 'sh']
            st = self.status(prefix=prefix)
            self.assertEqual(st['app-id'], 'org.devbg.test.Scoped')
            self.assertEqual(st['identity'], 'cgroup')
            self.app.ok(self.bus, 'register', 'sync', 'S.Sync', 'use', prefix=prefix)
        finally:
            os.rmdir(scope)
            os.rmdir(base)

    def test_flatpak_info(self):
        # A process whose root holds .flatpak-info, as Flatpak's sandbox does:
        # a private mount namespace and a chroot made of bind mounts, the file
        # itself a read-only bind mount (bwrap --ro-bind-data).
        if os.geteuid() != 0:
            self.skipTest('needs root for a mount namespace')
        root = os.path.join(self.tmpdir, 'sandbox')
        os.makedirs(root)
        with open(os.path.join(root, '.flatpak-info'), 'w') as f:
            f.write(self.devbgd.fake_flatpak_deployment('org.devbg.test.Scoped'))
        info = os.path.join(root, '.flatpak-info')
        script = ['set -e', 'mount --bind "%s" "%s"' % (info, info),
                  'mount -o remount,bind,ro "%s"' % info]
        for entry in sorted(os.listdir('/')):
            src = os.path.join('/', entry)
            dst = os.path.join(root, entry)
            if os.path.islink(src):
                script.append('ln -s "%s" "%s"' % (os.readlink(src), dst))
            elif entry in ('usr', 'etc', 'proc', 'dev', 'tmp', 'bin', 'sbin', 'lib', 'lib64'):
                script.append('mkdir -p "%s" && mount --rbind "%s" "%s"' % (dst, src, dst))
        for path in (self.tmpdir, os.path.dirname(self.app.path)):
            script.append('mkdir -p "%s%s" && mount --bind "%s" "%s%s"' % (root, path, path, root, path))
        script.append('exec chroot "%s" "$@"' % root)
        prefix = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', '\n'.join(script), 'sh']
        st = self.status(prefix=prefix)
        self.assertEqual(st['app-id'], 'org.devbg.test.Scoped')
        self.assertEqual(st['identity'], 'flatpak')


class ManifestAndMetadataTest(DevbgTestCase):
    def test_malformed_files_skipped_others_load(self):
        app = TestApp(self.tmpdir, 'good')
        self.devbgd.write_manifest('1-broken.xml', '<Application Id="org.x.Broken">\n<Extensions>\n<oops')
        self.devbgd.write_manifest('2-badtype.xml',
                                   '<Application Id="org.x.BadType" Executable="/bin/true">\n'
                                   '<Extensions>\n<Extension Category="windows.backgroundTasks" '
                                   'EntryPoint="X.Y">\n<BackgroundTasks>\n<Task Type="deviceUse" Colour="red"/>\n'
                                   '</BackgroundTasks></Extension></Extensions></Application>')
        self.devbgd.write_manifest('3-good.xml', manifest_xml('org.devbg.test.Good', app.path, [
            ('G.Sync', ['deviceUse'], HOST)]))
        self.devbgd.write_metadata('1-bad.xml', '<DeviceMetadata><ModelId>not-a-guid</ModelId>'
                                   '</DeviceMetadata>')
        self.devbgd.write_metadata('2-good.xml',
                                   '<DeviceMetadata><HardwareIds><HardwareId>USB\\VID_1209&amp;PID_0001'
                                   '</HardwareId></HardwareIds><SoftwareInfo><PrivilegedApplications>'
                                   '<Package><Identity><Name>org.devbg.test.Good</Name></Identity></Package>'
                                   '</PrivilegedApplications></SoftwareInfo></DeviceMetadata>')
        self.devbgd.start()
        log = self.devbgd.read_log()
        self.assertIn('1-broken.xml', log)
        self.assertIn('line 3', log)
        self.assertIn("unknown attribute Colour", log)
        self.assertIn("ModelId 'not-a-guid' is not a GUID", log)
        self.assertIn('2-badtype.xml: Error on line 5', log)
        st = dict(l.split('=', 1) for l in app.ok(self.bus, 'status')[1:])
        self.assertEqual(st['app-id'], 'org.devbg.test.Good')
        self.assertEqual(st['manifests'], '1')
        self.assertEqual(st['metadata'], '1')
        app.ok(self.bus, 'register', 'sync', 'G.Sync', 'use')

    def test_seed_manifest_forms(self):
        # The seed's Windows 8.1 form (m2:Task) inside the Application element.
        app = TestApp(self.tmpdir, 'seed')
        self.devbgd.write_manifest('seed.xml', '''<Application Id="org.devbg.test.Seed" Executable="%s"
    xmlns:m2="http://schemas.microsoft.com/appx/2013/manifest">
  <VisualElements DisplayName="ignored"/>
  <Extensions>
    <Extension Category="windows.backgroundTasks" EntryPoint="DeviceLibrary.SyncContent" Executable="/bin/true">
      <BackgroundTasks>
        <m2:Task Type="deviceUse" />
      </BackgroundTasks>
    </Extension>
    <Extension Category="windows.backgroundTasks" EntryPoint="DeviceLibrary.UpdateFirmware" Executable="/bin/true">
      <BackgroundTasks>
        <m2:Task Type="deviceServicing" />
      </BackgroundTasks>
    </Extension>
    <Extension Category="windows.fileTypeAssociation"><Whatever/></Extension>
    <Extension Category="windows.backgroundTasks" EntryPoint="DeviceLibrary.Tick" Executable="/bin/true">
      <BackgroundTasks><Task Type="timer"/><Task Type="pushNotification"/></BackgroundTasks>
    </Extension>
  </Extensions>
  <Capabilities>
    <Capability Name="internetClient"/>
    <DeviceCapability Name="webcam"/>
    <DeviceCapability Name="usb">
      <Device Id="vidpid:1209 B0A1"><Function Type="classId:ff * *"/></Device>
    </DeviceCapability>
  </Capabilities>
</Application>''' % app.path)
        self.devbgd.start()
        app.ok(self.bus, 'register', 'sync', 'DeviceLibrary.SyncContent', 'use')
        app.ok(self.bus, 'register', 'fw', 'DeviceLibrary.UpdateFirmware', 'servicing')
        # The rest of a real Windows manifest is not devbg's and refuses
        # nothing: a timer task is no device task, so no entry point.
        name, line = app.error(self.bus, 'register', 't', 'DeviceLibrary.Tick', 'use')
        self.assertEqual(name, 'org.devbg.Devbg1.Error.EntryPointNotDeclared')
        # A name that differs only in case is not the entry point; the
        # error names the declared ones.
        name, line = app.error(self.bus, 'register', 's', 'devicelibrary.synccontent', 'use')
        self.assertEqual(name, 'org.devbg.Devbg1.Error.EntryPointNotDeclared')
        self.assertIn("'DeviceLibrary.SyncContent' (deviceUse)", line)
        self.assertIn("'DeviceLibrary.UpdateFirmware' (deviceServicing)", line)

    def test_undeclared_entry_point_error_is_bounded(self):
        # 256 entry points of 200 bytes: listed whole, a refused Register
        # was 55 KB, a reply that waits on the bus for a caller that never
        # reads it (found by a hostile-user review). The first 10 only.
        app = TestApp(self.tmpdir, 'many')
        eps = [('E%03d.%s' % (i, 'x' * 195), ['deviceUse'], HOST) for i in range(256)]
        self.devbgd.write_manifest('many.xml', manifest_xml('org.devbg.test.Many', app.path, eps))
        self.devbgd.start()
        name, line = app.error(self.bus, 'register', 'x', 'Nope', 'use')
        self.assertEqual(name, ERR + 'EntryPointNotDeclared')
        self.assertIn("'E009.", line)
        self.assertNotIn("'E010.", line)
        self.assertIn(' and 246 more', line)
        self.assertLess(len(line), 4096)

    def test_typo_in_task_type_is_said(self):
        # An app developer's review: <Task Type="deviceuse"/> loaded "fine"
        # with its entry point dropped (said at debug level only), and
        # Register blamed the name ("it declares: none").
        app = TestApp(self.tmpdir, 'gadget')
        self.devbgd.write_manifest('gadget.xml', manifest_xml(
            'org.devbg.test.Gadget', app.path,
            [('Gadget.Sync', ['deviceuse'], HOST), ('Gadget.Tick', ['timer'], HOST)]))
        path = os.path.join(self.devbgd.manifest_dir, 'gadget.xml')
        self.devbgd.start()
        typo = ("Task Type 'deviceuse' of entry point 'Gadget.Sync' (not deviceUse or "
                "deviceServicing; likely a typo of 'deviceUse': names are case-sensitive)")
        self.assertIn('app org.devbg.test.Gadget: manifest %s loaded: 0 entry points; ignored: %s; '
                      "Task Type 'timer' of entry point 'Gadget.Tick' (not deviceUse or "
                      'deviceServicing)' % (path, typo), self.devbgd.read_log())
        name, line = app.error(self.bus, 'register', 'x', 'Gadget.Sync', 'use')
        self.assertEqual(name, ERR + 'EntryPointNotDeclared')
        self.assertIn("declares no entry point 'Gadget.Sync' in its manifest (names are "
                      'case-sensitive); it declares: none; ignored in it: ' + typo, line)


class ServiceTest(DevbgTestCase):
    def run_devbgd(self, *args):
        return subprocess.run([DEVBGD] + list(args), capture_output=True, text=True, timeout=30)

    def test_config_errors_named(self):
        cases = [
            ('[Policy]\nUseWallClockLimt=5\n', 'unknown key UseWallClockLimt in [Policy]'),
            ('[Polcy]\nX=1\n', 'unknown group [Polcy]'),
            ('[Policy]\nMinBatteryPercent=150\n', 'MinBatteryPercent=150: expected a whole number from 0 to 100'),
            ('[Policy]\nCancelGracePeriod=soon\n', 'CancelGracePeriod=soon: expected seconds'),
            ('[Policy]\nUseProtocols=usb;floppy\n', "unknown protocol 'floppy'"),
            ('[Service]\nEnableVirtualBackend=maybe\n', 'expected true or false'),
            ('not a keyfile', 'devbgd.conf'),
        ]
        for text, message in cases:
            with open(self.devbgd.config, 'w') as f:
                f.write(text)
            r = self.run_devbgd('--config', self.devbgd.config, '--print-config')
            self.assertEqual(r.returncode, 1, text)
            self.assertIn(message, r.stderr)
        r = self.run_devbgd('--config', '/nonexistent/devbgd.conf')
        self.assertEqual(r.returncode, 1)
        self.assertIn('/nonexistent/devbgd.conf', r.stderr)

    def test_config_values_apply(self):
        with open(self.devbgd.config, 'w') as f:
            f.write('[Policy]\nUseWallClockLimit=0.5\nMinBatteryPercent=50\n')
        r = self.run_devbgd('--config', self.devbgd.config, '--print-config')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('UseWallClockLimit=0.5', r.stdout)
        self.assertIn('MinBatteryPercent=50', r.stdout)
        self.assertIn('ServicingWallClockLimit=1800', r.stdout)

    def test_sigterm_clean_exit_and_second_instance(self):
        self.devbgd.start()
        second = self.run_devbgd('--bus-address', self.bus.address, '--state-dir',
                                 os.path.join(self.tmpdir, 'other'), '--config', self.devbgd.config)
        self.assertEqual(second.returncode, 1)
        self.assertIn('cannot own org.devbg.Devbg1', second.stderr)
        self.assertEqual(self.devbgd.stop(), 0)

    def test_bad_usage(self):
        r = self.run_devbgd('--no-such-option')
        self.assertEqual(r.returncode, 2)
        r = self.run_devbgd('--help')
        self.assertEqual(r.returncode, 0)
        self.assertIn('--manifest-dir', r.stdout)

    def test_newer_schema_refused(self):
        import sqlite3
        os.makedirs(self.devbgd.state_dir)
        db = sqlite3.connect(os.path.join(self.devbgd.state_dir, 'devbg.db'))
        db.execute('PRAGMA user_version = 999')
        db.close()
        self.devbgd.start(wait=False)
        self.assertEqual(self.devbgd.proc.wait(10), 1)
        self.devbgd.proc = None
        self.assertIn('schema version 999 is newer', self.devbgd.read_log())


if __name__ == '__main__':
    unittest.main()
