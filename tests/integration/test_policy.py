# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The request decision against the real devbgd, with python-dbusmock's
logind, UPower, polkitd and power-profiles-daemon on the test's private
system bus (devbgd talks to them there): every DeniedBySystem reason the
system gives, LowBattery and the sysfs fallback, DeniedByUser from
HeadlessConsent, the CPU window following the screen lock, and the
LoggingOff and EnergySaver cancellations."""
import json
import os
import re
import subprocess
import time
import unittest

import dbus

from devbgtest import DevbgTestCase, DevbgSim, TestApp, manifest_xml, wait_for, DEVBGD
from test_runtime import RuntimeBase, parse, BAND, DOCK, NOBODY

APP_A = 'org.devbg.test.AppA'
APP_B = 'org.devbg.test.AppB'
DOCK_MODEL = '{5a1d0c11-6a0e-4c47-9d3c-2f1e0b5d0c01}'
MOCK = 'org.freedesktop.DBus.Mock'
SESSION = '/org/freedesktop/login1/session/c1'
LOGIND_NAME = 'org.freedesktop.login1'
UPOWER_NAME = 'org.freedesktop.UPower'
DISPLAY = '/org/freedesktop/UPower/devices/DisplayDevice'
PROPS = 'org.freedesktop.DBus.Properties'
PPD_NAME = 'net.hadess.PowerProfiles'

TEMPLATES = {
    'logind': (LOGIND_NAME, '/org/freedesktop/login1'),
    'upower': (UPOWER_NAME, '/org/freedesktop/UPower'),
    'polkitd': ('org.freedesktop.PolicyKit1', '/org/freedesktop/PolicyKit1/Authority'),
    'power_profiles_daemon': (PPD_NAME, '/net/hadess/PowerProfiles'),
}

# The dock's metadata: only APP_A is its privileged app.
DOCK_METADATA = ('<DeviceMetadata><ModelId>%s</ModelId><HardwareIds>'
                 '<HardwareId>USB\\VID_1209&amp;PID_D0C1</HardwareId></HardwareIds>'
                 '<SoftwareInfo><PrivilegedApplications><Package><Identity><Name>%s</Name>'
                 '</Identity></Package></PrivilegedApplications></SoftwareInfo>'
                 '</DeviceMetadata>\n' % (DOCK_MODEL, APP_A))


class Mock:
    """A python-dbusmock template on the private system bus."""

    def __init__(self, test, template, params=None):
        self.name, self.path = TEMPLATES[template]
        args = ['/usr/bin/python3', '-m', 'dbusmock', '--system', '--template', template]
        if params:
            args += ['-p', json.dumps(params)]
        log = open(os.path.join(test.tmpdir, 'mock-%s.log' % template), 'w')
        self.proc = subprocess.Popen(args, env=test.bus.env(), stdout=log, stderr=subprocess.STDOUT)
        test.addCleanup(self.stop)
        self.conn = test.dbus
        wait_for(lambda: self.conn.name_has_owner(self.name), what=template + ' mock')

    def obj(self, path=None):
        return self.conn.get_object(self.name, path or self.path, introspect=False)

    def mock(self, path=None):
        return dbus.Interface(self.obj(path), MOCK)

    def set(self, iface, prop, value, path=None):
        dbus.Interface(self.obj(path), PROPS).Set(iface, prop, value)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class PolicyBase(RuntimeBase):
    """devbgd with its real policies (not permissive), a logind with one
    active session (c1, in which every process is), and the dock's
    metadata naming APP_A."""
    permissive = False
    consent = 'allow'
    extra_policy = ''
    with_logind = True

    @property
    def config(self):
        return ('[Service]\nEnableVirtualBackend=true\n'
                '[Policy]\nCancelGracePeriod=1\nIoActivityWindow=100\n'
                'CpuFloorMs=400\nCpuWindowLocked=1\nCpuWindowUnlocked=60\n'
                'HeadlessConsent=%s\n%s' % (self.consent, self.extra_policy))

    def setUp(self):
        super().setUp()
        # devbgd follows the system services by name and asks logind and
        # polkit per request: they may come after it, as on a real boot.
        self.dbus = dbus.bus.BusConnection(self.bus.address)
        self.addCleanup(self.dbus.close)
        self.devbgd.write_metadata('dock.xml', DOCK_METADATA)
        if self.with_logind:
            self.logind = Mock(self, 'logind')
            self.logind.mock().AddSession('c1', 'seat0', dbus.UInt32(0), 'root', True)
            self.session_for_pids(True)
        wait_for(lambda: 'loaded 2 app manifests and 1 device metadata' in self.devbgd.read_log(),
                 what='the dock metadata')

    def session_for_pids(self, in_session):
        """logind's GetSessionByPID: c1 for every process, or none."""
        code = ('ret = dbus.ObjectPath("%s")' % SESSION if in_session else
                'raise dbus.exceptions.DBusException("no session", '
                'name="org.freedesktop.login1.NoSessionForPID")')
        self.logind.mock().AddMethod('org.freedesktop.login1.Manager', 'GetSessionByPID',
                                     'u', 'o', code)

    def request(self, app, ep, device, trigger='use', duration=0, user=None):
        """(result, reason) of one request; an allowed task runs to its end."""
        tid = self.register(app, ep, trigger, user=user)
        events = parse(app.run(self.bus, 'run', tid, device, 'count=1', duration, user=user))
        results = [fields for kind, fields in events if kind == 'RESULT']
        self.assertEqual(len(results), 1, events)
        return int(results[0][0]), results[0][1]

    def assert_denied(self, reason, app, ep, device, trigger='use', duration=0, result=2, user=None):
        self.assertEqual(self.request(app, ep, device, trigger, duration, user), (result, reason))

    def assert_allowed(self, app, ep, device, trigger='use', duration=0, user=None):
        self.assertEqual(self.request(app, ep, device, trigger, duration, user), (0, 'allowed'))


class SystemDenialTest(PolicyBase):
    def test_all_pass(self):
        self.assert_allowed(self.app_a, 'Test.Progress', BAND)
        self.assert_allowed(self.app_a, 'Test.Progress', DOCK, 'servicing', 60)

    def test_not_foreground_in_no_session(self):
        self.session_for_pids(False)
        self.assert_denied('not-foreground', self.app_a, 'Test.Progress', BAND)

    def test_not_foreground_inactive_session(self):
        self.logind.set('org.freedesktop.login1.Session', 'Active', False, SESSION)
        self.assert_denied('not-foreground', self.app_a, 'Test.Progress', BAND)

    def test_locked_session(self):
        self.logind.obj(SESSION).SetLockedHint(True, dbus_interface='org.freedesktop.login1.Session')
        self.assert_denied('session-locked', self.app_a, 'Test.Progress', BAND)
        self.logind.obj(SESSION).SetLockedHint(False, dbus_interface='org.freedesktop.login1.Session')
        self.assert_allowed(self.app_a, 'Test.Progress', BAND)

    def test_servicing_rows(self):
        # APP_B is not the dock's privileged app; the band has no metadata.
        self.assert_denied('not-privileged', self.app_b, 'Test.Progress', DOCK, 'servicing', 60)
        self.assert_denied('no-device-metadata', self.app_a, 'Test.Progress', BAND, 'servicing', 60)
        self.assert_denied('estimate-too-long', self.app_a, 'Test.Progress', DOCK, 'servicing', 1800)
        self.assert_allowed(self.app_a, 'Test.Progress', DOCK, 'servicing', 1799)

    def test_undeclared_entry_point(self):
        tid = self.register(self.app_a, 'Test.Fail', 'use')
        # The app is updated: its manifest no longer declares Test.Fail.
        self.devbgd.write_manifest('a.xml', manifest_xml(APP_A, self.app_a.path, [
            ('Test.Progress', ['deviceUse'], self.task_exe)]))
        wait_for(lambda: ('RESULT', ['2', 'entry-point-not-declared', '-']) in
                 parse(self.app_a.run(self.bus, 'run', tid, BAND, '', 0)),
                 what='the reload to refuse the entry point')
        self.assert_allowed(self.app_a, 'Test.Progress', BAND)

    def test_device_not_declared(self):
        app = TestApp(self.tmpdir, 'app-c')
        self.devbgd.write_manifest('c.xml', manifest_xml(
            'org.devbg.test.AppC', app.path, [('Test.Progress', ['deviceUse'], self.task_exe)],
            devices='<DeviceCapability Name="usb"><Device Id="vidpid:1209 D0C1">'
                    '<Function Type="classId:ff * *"/></Device></DeviceCapability>'))
        wait_for(lambda: 'app-id=org.devbg.test.AppC' in app.run(self.bus, 'status'),
                 what='app C known')
        self.assert_denied('device-not-declared', app, 'Test.Progress', BAND)
        self.assert_allowed(app, 'Test.Progress', DOCK)

    def test_device_not_accessible_then_polkit(self):
        polkit = Mock(self, 'polkitd')
        self.sim.ctl('add', 'band', 'id=locked', 'serial=LOCKED', 'mode=0600', 'owner=0', 'group=0')
        locked = 'virtual-LOCKED'
        wait_for(lambda: locked in self.devbgctl('devices').stdout, what='the locked band')
        # root may open it; nobody may not, and polkit does not grant it.
        self.assert_allowed(self.app_a, 'Test.Progress', locked)
        self.assert_denied('device-not-accessible', self.app_a, 'Test.Progress', locked, user=NOBODY)
        # A device nobody restricts is open to nobody as well.
        self.assert_allowed(self.app_a, 'Test.Progress', BAND, user=NOBODY)
        # polkit grants the action (allow_active for a user at the seat).
        polkit.mock().SetAllowed(['org.devbg.Devbg1.use-device'])
        self.assert_allowed(self.app_a, 'Test.Progress', locked, user=NOBODY)
        self.assertIn('polkit grants org.devbg.Devbg1.use-device on device virtual-LOCKED',
                      self.devbgd.read_log())

    def test_device_not_accessible_without_polkit(self):
        self.sim.ctl('add', 'band', 'id=locked', 'serial=LOCKED', 'mode=0660', 'owner=0', 'group=0')
        wait_for(lambda: 'virtual-LOCKED' in self.devbgctl('devices').stdout, what='the band')
        self.assert_denied('device-not-accessible', self.app_a, 'Test.Progress', 'virtual-LOCKED',
                           user=NOBODY)
        self.assertIn('polkit does not answer', self.devbgd.read_log())

    def test_hanging_polkit_times_out(self):
        # A polkit that never answers costs the request 5 s, not a hang.
        polkit = Mock(self, 'polkitd')
        polkit.mock().SimulateHang(True)
        self.sim.ctl('add', 'band', 'id=locked', 'serial=LOCKED', 'mode=0600', 'owner=0', 'group=0')
        wait_for(lambda: 'virtual-LOCKED' in self.devbgctl('devices').stdout, what='the band')
        start = time.monotonic()
        self.assert_denied('device-not-accessible', self.app_a, 'Test.Progress', 'virtual-LOCKED',
                           user=NOBODY)
        self.assertLess(time.monotonic() - start, 15)
        self.assertIn('polkit does not answer', self.devbgd.read_log())
        # devbgd kept serving meanwhile and after.
        self.assert_allowed(self.app_a, 'Test.Progress', BAND)

    def test_already_running(self):
        proc, _, _ = self.start_background(self.app_a, 'Test.Idle')
        self.assert_denied('already-running', self.app_a, 'Test.Progress', DOCK)
        # Checked after the device: another app on the busy band hears device-busy.
        self.assert_denied('device-busy', self.app_b, 'Test.Progress', BAND)
        proc.kill()

    def test_cpu_window_follows_the_lock(self):
        proc, _, instance = self.start_background(self.app_a, 'Test.Idle')
        # Unlocked: a 60 s window; the idle task lives on.
        time.sleep(2.5)
        self.assertIsNone(proc.poll())
        self.assertIn('CPU window 60 s (screen unlocked)', self.devbgd.read_log())
        self.logind.obj(SESSION).SetLockedHint(True, dbus_interface='org.freedesktop.login1.Session')
        done = self.completed(self.finish_background(proc))
        self.assertEqual(done['reason'], 'idle-task')
        self.assertIn('CPU window 1 s (screen locked)', self.devbgd.read_log())

    def test_logging_off_cancels_detached_tasks_too(self):
        proc, _, instance = self.start_background(self.app_a, 'Test.Idle', flags=('detach',))
        self.logind.mock().EmitSignal('org.freedesktop.login1.Manager', 'SessionRemoved', 'so',
                                      ['c1', SESSION])
        wait_for(lambda: 'canceled (logging-off)' in self.devbgd.read_log(), what='LoggingOff')
        wait_for(lambda: 'logging-off' in self.devbgctl('history').stdout, what='the history')
        proc.kill()


class ManifestExecutablesTest(DevbgTestCase):
    """Part 7: an app names several executables (its UI and helpers) as
    its own; one claimed by two apps identifies neither."""

    def test_helpers_are_the_app(self):
        ui, helper, other = (TestApp(self.tmpdir, n) for n in ('ui', 'helper', 'other'))
        text = manifest_xml(APP_A, ui.path, [('A.Sync', ['deviceUse'], '/bin/true')])
        text = text.replace('</Application>', '<Executables><Executable Path="%s"/>'
                            '</Executables>\n</Application>' % helper.path)
        self.devbgd.write_manifest('a.xml', text)
        self.devbgd.start()
        for app in (ui, helper):
            self.assertIn('app-id=' + APP_A, app.ok(self.bus, 'status'))
        tid = helper.ok(self.bus, 'register', 'sync', 'A.Sync', 'use')[0].split()[1]
        self.assertIn(tid, ' '.join(ui.ok(self.bus, 'list')))
        # Another app claims the helper: neither is loaded, both are named.
        self.devbgd.write_manifest('b.xml', manifest_xml(APP_B, helper.path, [
            ('B.Sync', ['deviceUse'], '/bin/true')]))
        wait_for(lambda: 'app-id=' + APP_A not in ui.run(self.bus, 'status'),
                 what='the conflict to unload app A')
        log = self.devbgd.read_log()
        self.assertIn('claims Executable %s' % os.path.realpath(helper.path), log)
        self.assertNotIn('app-id=' + APP_B, other.run(self.bus, 'status'))


class NoLogindTest(PolicyBase):
    with_logind = False

    def test_no_logind_is_not_foreground(self):
        self.assert_denied('not-foreground', self.app_a, 'Test.Progress', BAND)
        self.assertIn('logind does not answer', self.devbgd.read_log())


class NarrowProtocolsTest(PolicyBase):
    extra_policy = 'UseProtocols=hid;bluetooth-rfcomm\n'

    def test_protocol_not_supported(self):
        self.assert_denied('protocol-not-supported', self.app_a, 'Test.Progress', BAND)
        # Servicing keeps the seed's list.
        self.assert_allowed(self.app_a, 'Test.Progress', DOCK, 'servicing', 60)

    def test_widening_refused_at_start(self):
        conf = os.path.join(self.tmpdir, 'wide.conf')
        with open(conf, 'w') as f:
            f.write('[Policy]\nUseProtocols=usb;mtp\n')
        r = subprocess.run([DEVBGD, '--config', conf, '--print-config'], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('[Policy] UseProtocols=usb;mtp', r.stderr)
        self.assertIn('never allows mtp for a use task', r.stderr)


class AppLeavesWhileDecidedTest(PolicyBase):
    """An app that leaves while its request is being decided (here, while
    devbgd waits for logind's answer about its session) gets no task: the
    instance would be canceled at once as its app's, and was never meant to
    run without it."""

    def test_no_task_starts_for_an_app_gone(self):
        self.logind.mock().AddMethod('org.freedesktop.login1.Manager', 'GetSessionByPID', 'u',
                                     'o', 'import time; time.sleep(1.5); '
                                     'ret = dbus.ObjectPath("%s")' % SESSION)
        tid = self.register(self.app_a, 'Test.Progress')
        proc = subprocess.Popen([self.app_a.path, 'run', tid, BAND, 'count=1', '0'],
                                env=self.bus.env(), stdout=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        wait_for(lambda: 'Request from' in self.devbgd.read_log(), what='the request')
        proc.kill()
        proc.wait(10)
        wait_for(lambda: 'the app exited before its task started' in self.devbgd.read_log(),
                 timeout=10, what='the request given up')
        log = self.devbgd.read_log()
        self.assertNotIn('started as pid', log)
        self.assertNotIn(tid, self.devbgctl('--json', 'history').stdout)
        # The app comes back: its next request runs, with logind answering.
        self.session_for_pids(True)
        self.assert_allowed(self.app_a, 'Test.Progress', BAND)


class ConsentDeniedTest(PolicyBase):
    consent = 'deny'

    def test_headless_consent_deny(self):
        self.assert_denied('denied-by-user', self.app_a, 'Test.Progress', BAND, result=1)
        self.assert_denied('denied-by-user', self.app_a, 'Test.Progress', DOCK, 'servicing', 60,
                           result=1)
        # Asked last: a request refused anyway is refused for its own reason.
        self.assert_denied('no-device-metadata', self.app_a, 'Test.Progress', BAND, 'servicing', 60)


class PowerTest(PolicyBase):
    def test_upower_battery(self):
        upower = Mock(self, 'upower', {'OnBattery': True})
        upower.mock().SetupDisplayDevice(dbus.UInt32(2), dbus.UInt32(2), 33.0, 10.0, 30.0, 1.0,
                                         dbus.Int64(600), dbus.Int64(0), True, 'battery',
                                         dbus.UInt32(1))
        time.sleep(0.3)
        self.assert_denied('low-battery', self.app_a, 'Test.Progress', DOCK, 'servicing', 60, result=3)
        # A use task does not care.
        self.assert_allowed(self.app_a, 'Test.Progress', BAND)
        upower.set('org.freedesktop.UPower.Device', 'Percentage', 34.0, DISPLAY)
        time.sleep(0.3)
        self.assert_allowed(self.app_a, 'Test.Progress', DOCK, 'servicing', 60)
        upower.set('org.freedesktop.UPower.Device', 'Percentage', 5.0, DISPLAY)
        upower.set('org.freedesktop.UPower', 'OnBattery', False)
        time.sleep(0.3)
        self.assert_allowed(self.app_a, 'Test.Progress', DOCK, 'servicing', 60)

    def write_supply(self, name, **attrs):
        d = os.path.join(self.devbgd.sysfs_root, 'class', 'power_supply', name)
        os.makedirs(d, exist_ok=True)
        for k, v in attrs.items():
            with open(os.path.join(d, k), 'w') as f:
                f.write('%s\n' % v)

    def test_sysfs_without_upower(self):
        # A mouse's battery is not the machine's: still on mains.
        self.write_supply('hid-mouse-battery', type='Battery', scope='Device', capacity=10)
        self.assert_allowed(self.app_a, 'Test.Progress', DOCK, 'servicing', 60)
        self.write_supply('BAT0', type='Battery', present=1, capacity=33, status='Discharging')
        self.write_supply('AC', type='Mains', online=0)
        self.assert_denied('low-battery', self.app_a, 'Test.Progress', DOCK, 'servicing', 60, result=3)
        self.write_supply('BAT0', capacity=34)
        self.assert_allowed(self.app_a, 'Test.Progress', DOCK, 'servicing', 60)
        self.write_supply('BAT0', capacity=5)
        self.write_supply('AC', online=1)
        self.assert_allowed(self.app_a, 'Test.Progress', DOCK, 'servicing', 60)
        # A battery of unknown level, on battery: refused.
        os.unlink(os.path.join(self.devbgd.sysfs_root, 'class', 'power_supply', 'BAT0', 'capacity'))
        self.write_supply('AC', online=0)
        self.assert_denied('low-battery', self.app_a, 'Test.Progress', DOCK, 'servicing', 60, result=3)

    def test_energy_saver_profile_cancels_use_not_servicing(self):
        ppd = Mock(self, 'power_profiles_daemon')
        use, _, _ = self.start_background(self.app_b, 'Test.Idle')
        servicing, _, _ = self.start_background(self.app_a, 'Test.Idle', device=DOCK,
                                                trigger='servicing')
        self.assertIsNotNone(servicing)
        ppd.set(PPD_NAME, 'ActiveProfile', 'power-saver')
        done = self.completed(self.finish_background(use))
        self.assertEqual(done['reason'], 'energy-saver')
        time.sleep(0.5)
        self.assertIsNone(servicing.poll())
        servicing.kill()

    def test_upower_warning_low_on_battery_cancels_use(self):
        upower = Mock(self, 'upower', {'OnBattery': True})
        upower.mock().SetupDisplayDevice(dbus.UInt32(2), dbus.UInt32(2), 50.0, 10.0, 30.0, 1.0,
                                         dbus.Int64(600), dbus.Int64(0), True, 'battery',
                                         dbus.UInt32(1))
        use, _, _ = self.start_background(self.app_a, 'Test.Idle')
        upower.set('org.freedesktop.UPower.Device', 'WarningLevel', dbus.UInt32(3), DISPLAY)
        done = self.completed(self.finish_background(use))
        self.assertEqual(done['reason'], 'energy-saver')


if __name__ == '__main__':
    unittest.main()
