# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a vendor trying devbg first tripped over (issue 11, items 9 and 11),
against the real devbgd and devbg-sim on a private system bus: the device
list an app gets, a spawn failure's detail, the log's structured fields,
a manifest whose executable appears after it was loaded."""
import os
import re
import shutil
import subprocess
import time

from devbgtest import (DevbgTestCase, DevbgSim, TestApp, manifest_xml, wait_for, BUILD_DIR)

TEST_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-test-task')
BAND = 'virtual-B0A1-0000'
DOCK = 'virtual-D0C1-0000'
ERR = 'org.devbg.Devbg1.Error.'
APP = 'org.devbg.test.Gaps'
OTHER = 'org.devbg.test.NoDevices'
BAND_ONLY = ('<DeviceCapability Name="usb">'
             '<Device Id="vidpid:1209 B0A1"><Function Type="classId:ff * *"/></Device>'
             '</DeviceCapability>')
# Any USB device, but only of a class the simulated devices do not have.
NO_SIM_DEVICE = ('<DeviceCapability Name="usb">'
                 '<Device Id="vidpid:1234 5678"/>'
                 '</DeviceCapability>')


def parse(lines):
    out = []
    for line in lines:
        kind, _, rest = line.partition(' ')
        fields = {'COMPLETED': 4, 'DETAIL': 0}.get(kind)
        if kind == 'DETAIL':
            out.append((kind, [rest]))
        else:
            out.append((kind, rest.split(' ', fields) if fields else rest.split()))
    return out


class GapsBase(DevbgTestCase):
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\n')

    def setUp(self):
        super().setUp()
        self.sim = DevbgSim(self.bus, self.tmpdir).start()
        self.addCleanup(self.sim.stop)
        self.task_exe, = self.copy_tasks(TEST_TASK)
        self.app = TestApp(self.tmpdir, 'gaps-app')
        self.other = TestApp(self.tmpdir, 'no-devices-app')
        self.write_manifests()
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band')

    def write_manifests(self):
        eps = [(ep, ['deviceUse'], self.task_exe) for ep in ('Test.Progress', 'Test.Idle')]
        # A host that is not there (yet): the task cannot start.
        self.missing_exe = os.path.join(self.tmpdir, 'tasks', 'missing-task')
        eps.append(('Test.Missing', ['deviceUse'], self.missing_exe))
        self.devbgd.write_manifest('gaps.xml', manifest_xml(APP, self.app.path, eps, BAND_ONLY))
        self.devbgd.write_manifest('other.xml', manifest_xml(OTHER, self.other.path, eps,
                                                             NO_SIM_DEVICE))

    def register(self, app, ep):
        return app.ok(self.bus, 'register', ep.lower(), ep, 'use')[0].split()[1]


class DeviceListTest(GapsBase):
    """An app is shown the devices its manifest declares, and no other;
    a tool that is no app sees them all."""

    def devices(self, app):
        lines = app.ok(self.bus, 'devices')
        return lines[1:1 + int(lines[0].split()[1])]

    def test_app_lists_only_declared_devices(self):
        self.assertEqual(self.devices(self.app), [BAND])
        self.assertEqual(self.devices(self.other), [])
        # devbgctl is no app: every device.
        out = self.devbgctl('devices').stdout
        self.assertIn(BAND, out)
        self.assertIn(DOCK, out)

    def test_listing_follows_the_request_rule(self):
        """What the list leaves out is exactly what a request refuses as
        device-not-declared."""
        tid = self.register(self.app, 'Test.Progress')
        events = parse(self.app.run(self.bus, 'run', tid, DOCK, '', 0))
        self.assertEqual(events[0], ('RESULT', ['2', 'device-not-declared', '-']), events)
        self.assertNotIn(DOCK, self.devices(self.app))

    def test_get_device_of_undeclared_device_refused(self):
        name, line = self.app.error(self.bus, 'call-devices', 'GetDevice', '("%s",)' % DOCK)
        self.assertEqual(name, ERR + 'NoSuchDevice', line)
        self.assertIn("is not one that app %s's manifest declares" % APP, line)
        self.app.ok(self.bus, 'call-devices', 'GetDevice', '("%s",)' % BAND)

    def test_signals_only_for_declared_devices(self):
        proc = subprocess.Popen([self.app.path, 'watch-devices', '4'], env=self.bus.env(),
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertEqual(proc.stdout.readline().strip(), 'READY')
        self.sim.ctl('add', 'dock', 'id=d2', 'serial=D0C1-0002')
        self.sim.ctl('add', 'band', 'id=b2', 'serial=B0A1-0002')
        out, _ = proc.communicate(timeout=30)
        seen = out.split()
        self.assertIn('virtual-B0A1-0002', seen, out)
        self.assertNotIn('virtual-D0C1-0002', seen, out)


class SpawnFailureDetailTest(GapsBase):
    """A task program that cannot start: the app hears why, not only
    spawn-failed, and nothing of devbgd's own."""

    def expected(self):
        return 'Could not start %s (executing): No such file or directory' % self.missing_exe

    def test_detail_in_request_answer(self):
        tid = self.register(self.app, 'Test.Missing')
        events = parse(self.app.run(self.bus, 'run', tid, BAND, '', 0))
        self.assertEqual(events[0], ('RESULT', ['2', 'spawn-failed', '-']), events)
        self.assertEqual(events[1], ('DETAIL', [self.expected()]), events)

    def test_detail_through_libdevbg(self):
        tid = self.register(self.app, 'Test.Missing')
        lines = self.app.run(self.bus, 'lib-request', tid, BAND)
        self.assertEqual(lines[0], 'RESULT 2 spawn-failed -', lines)
        self.assertEqual(lines[1], 'DETAIL ' + self.expected(), lines)
        # An allowed request has no detail.
        tid = self.register(self.app, 'Test.Progress')
        lines = self.app.run(self.bus, 'lib-request', tid, BAND)
        self.assertTrue(lines[0].startswith('RESULT 0 allowed '), lines)
        self.assertEqual(lines[1], 'DETAIL ', lines)


class RefusalDetailTest(GapsBase):
    """A refused request tells the app's developer which rule refused and
    why, in Request's detail (an app developer's review found "" there)."""

    def test_refusal_says_why(self):
        tid = self.register(self.app, 'Test.Idle')
        events = parse(self.app.run(self.bus, 'run', tid, DOCK, '', 0))
        self.assertEqual(events[0], ('RESULT', ['2', 'device-not-declared', '-']), events)
        self.assertEqual(events[1], ('DETAIL', ["no DeviceCapability of the app's manifest "
                                                "covers the device"]), events)
        # Already running: which instance.
        proc = subprocess.Popen([self.app.path, 'run', tid, BAND, '', '0'], env=self.bus.env(),
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        first = proc.stdout.readline().split()
        self.assertEqual(first[:3], ['RESULT', '0', 'allowed'], first)
        events = parse(self.app.run(self.bus, 'run', tid, BAND, '', 0))
        self.assertEqual(events[0], ('RESULT', ['2', 'already-running', '-']), events)
        self.assertEqual(events[1][0], 'DETAIL')
        self.assertIn('already runs a device task; one at a time (instance %s)' % first[3],
                      events[1][1][0])
        self.app.ok(self.bus, 'call', 'Cancel', '("%s",)' % first[3])
        proc.communicate(timeout=30)


class LateExecutableTest(GapsBase):
    """A manifest naming an executable that is installed after it: the
    executable identifies the app once it exists, without a reload of
    the directories, and as strictly as at a load."""
    LATE = 'org.devbg.test.Late'
    PY = 'org.devbg.test.LatePy'

    def write_manifests(self):
        super().write_manifests()
        apps = os.path.join(self.tmpdir, 'apps')
        self.late_path = os.path.join(apps, 'late-app')
        self.late_py = os.path.join(apps, 'late-python')
        eps = [('Test.Progress', ['deviceUse'], self.task_exe)]
        self.devbgd.write_manifest('late.xml', manifest_xml(self.LATE, self.late_path, eps))
        self.devbgd.write_manifest('late-py.xml', manifest_xml(self.PY, self.late_py, eps))

    def status(self, cmd):
        r = subprocess.run(cmd, env=self.bus.env(), capture_output=True, text=True, timeout=30)
        return dict(l.split('=', 1) for l in r.stdout.splitlines() if '=' in l)

    def test_executable_installed_later_identifies_its_app(self):
        loads = re.compile(r'loaded \d+ app manifests')
        before = len(loads.findall(self.devbgd.read_log()))
        shutil.copy2(self.app.path, self.late_path)
        st = self.status([self.late_path, 'status'])
        self.assertEqual((st.get('app-id'), st.get('identity')), (self.LATE, 'executable'), st)
        log = self.devbgd.read_log()
        self.assertIn('%s, named by a manifest, did not exist when the manifests were loaded; '
                      'reloading them' % self.late_path, log)
        self.assertEqual(len(loads.findall(log)), before + 1)
        # And it registers its tasks.
        lines = subprocess.run([self.late_path, 'register', 'p', 'Test.Progress', 'use'],
                               env=self.bus.env(), capture_output=True, text=True).stdout
        self.assertTrue(lines.startswith('OK '), lines)

    def test_late_interpreter_is_still_no_identity(self):
        """A path that turns out to be an interpreter is refused at the
        reload, as at a load."""
        os.symlink('/usr/bin/python3', self.late_py)
        time.sleep(1.1)  # past the bound on resolving missing paths
        script = ('import sys\n'
                  'from gi.repository import Gio\n'
                  'bus = Gio.DBusConnection.new_for_address_sync(sys.argv[1], '
                  'Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | '
                  'Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)\n'
                  'st = bus.call_sync("org.devbg.Devbg1", "/org/devbg/Devbg1", '
                  '"org.devbg.Devbg1.Manager", "GetStatus", None, None, 0, -1, None)[0]\n'
                  'print("app-id=" + st.get("app-id", ""))\n')
        st = self.status([self.late_py, '-c', script, self.bus.address])
        self.assertEqual(st.get('app-id'), '', st)
        wait_for(lambda: 'late-py.xml: app %s names Executable %s, but' % (self.PY, self.late_py)
                 in self.devbgd.read_log(), what='the refusal at the reload')


class LogFieldsTest(GapsBase):
    """Every line devbgd logs about a task instance carries its IDs as
    structured fields (DEVBG_INSTANCE, DEVBG_TASK, DEVBG_APP,
    DEVBG_DEVICE), so that `journalctl DEVBG_INSTANCE=<id>` finds its whole
    story. devbgd --verbose writes them after each line on stderr."""

    def lines_mentioning(self, text):
        return [l for l in self.devbgd.read_log().splitlines()
                if text in l.split(' [DEVBG_', 1)[0]]

    def assert_fields(self, text, **fields):
        lines = self.lines_mentioning(text)
        self.assertTrue(lines, 'no line mentions %s' % text)
        for line in lines:
            for key, value in fields.items():
                self.assertIn('DEVBG_%s=%s' % (key, value), line, line)

    def test_instance_story_carries_its_fields(self):
        tid = self.register(self.app, 'Test.Progress')
        events = parse(self.app.run(self.bus, 'run', tid, BAND, 'count=3 interval_ms=10', 0))
        self.assertEqual(events[0][1][:2], ['0', 'allowed'], events)
        iid = events[0][1][2]
        wait_for(lambda: any('ended' in l for l in self.lines_mentioning(iid)),
                 what='the end of the instance in the log')
        # Started, ran, ended: at least these three lines.
        self.assertGreaterEqual(len(self.lines_mentioning(iid)), 3, self.lines_mentioning(iid))
        self.assert_fields(iid, INSTANCE=iid, TASK=tid, APP=APP, DEVICE=BAND)
        # The registration's own lines carry the task and the app; the
        # consent decision, the request's task, app and device.
        self.assert_fields(tid, TASK=tid, APP=APP)
        self.assert_fields('consent for ', TASK=tid, APP=APP, DEVICE=BAND)

    def test_refusals_logged_per_app_are_bounded(self):
        # A caller makes refusals at will: at most 20 a minute of one app
        # of a user are logged, so the journal (10,000 lines a service in
        # 30 s) does not drop what devbgd says about everyone else.
        tid = self.register(self.app, 'Test.Progress')
        out = self.app.ok(self.bus, 'repeat', '40', 'Request',
                          '("%s", "%s", "", uint32 0)' % (tid, DOCK))
        self.assertEqual(out[0], 'OK 40 0')
        self.assertEqual(len(self.lines_mentioning('denied (device-not-declared)')), 20)
        # Another app's own are logged.
        oid = self.register(self.other, 'Test.Progress')
        self.other.ok(self.bus, 'call', 'Request', '("%s", "%s", "", uint32 0)' % (oid, BAND))
        self.assertEqual(len([l for l in self.lines_mentioning('denied (')
                              if OTHER in l.split(' [DEVBG_', 1)[0]]), 1)

    def test_denied_and_failed_requests_carry_their_fields(self):
        tid = self.register(self.app, 'Test.Progress')
        parse(self.app.run(self.bus, 'run', tid, DOCK, '', 0))
        self.assert_fields('denied (device-not-declared)', TASK=tid, APP=APP, DEVICE=DOCK)
        # A request that failed as its instance started names the instance.
        mid = self.register(self.app, 'Test.Missing')
        parse(self.app.run(self.bus, 'run', mid, BAND, '', 0))
        [line] = self.lines_mentioning('denied (spawn-failed)')
        iid = re.search(r'instance (\S+) not started', line).group(1)
        self.assert_fields(iid, INSTANCE=iid, TASK=mid, APP=APP, DEVICE=BAND)
        self.app.ok(self.bus, 'unregister', tid)
        self.assert_fields('unregistered task ' + tid, TASK=tid, APP=APP)
