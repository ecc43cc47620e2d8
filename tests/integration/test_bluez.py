# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The BlueZ backend: the real devbgd talks over D-Bus to python-dbusmock's
bluez5 template, extended by bluez_mock.py with a profile manager whose
ConnectProfile calls devbgd's Profile1.NewConnection with one end of a
socketpair the test takes (TakePeer), and GATT services. Observed: paired
and connected devices listed with BTHENUM/BTHLE hardware IDs and the
address as stable ID; a sync over RFCOMM and one over GATT to completion;
ConditionLoss on disconnect; IdleTask with no traffic; an unpaired device
refused; a NewConnection from anyone but bluetoothd rejected.

Run with /usr/bin/python3 (Debian's, which has dbusmock)."""
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import unittest

import dbus

from devbgtest import DevbgTestCase, TestApp, manifest_xml, wait_for, BUILD_DIR

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-test-task')
BT_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-bt-task')
APP = 'org.devbg.test.BtApp'

SPP = '00001101-0000-1000-8000-00805f9b34fb'
VENDOR_SVC = 'f000aa00-0451-4000-b000-000000000000'  # a band's sync service (GATT)
DATA_CHAR = 'f000aa01-0451-4000-b000-000000000000'
CTRL_CHAR = 'f000aa02-0451-4000-b000-000000000000'
OTHER_SVC = 'f000bb00-0451-4000-b000-000000000000'
OTHER_CHAR = 'f000bb01-0451-4000-b000-000000000000'

BAND_ADDR = '11:22:33:44:55:66'
ADAPTER = 'hci0'
BAND_PATH = '/org/bluez/hci0/dev_11_22_33_44_55_66'
MODALIAS = 'bluetooth:v000Fp1200d1436'
RFCOMM_ID = 'bluez-11_22_33_44_55_66-rfcomm-' + SPP
GATT_ID = 'bluez-11_22_33_44_55_66-gatt-' + VENDOR_SVC

CAPS = ('<DeviceCapability Name="bluetooth.rfcomm">'
        '<Device Id="vidpid:000F 1200"><Function Type="name:serialPort"/></Device>'
        '</DeviceCapability>'
        '<DeviceCapability Name="bluetooth.genericAttributeProfile">'
        '<Device Id="any"><Function Type="serviceId:%s"/></Device>'
        '</DeviceCapability>' % VENDOR_SVC)
ENTRY_POINTS = ['Test.Io', 'Test.Idle']


def parse(lines):
    out = []
    for line in lines:
        kind, _, rest = line.partition(' ')
        fields = {'COMPLETED': 4, 'PENDING': 5}.get(kind)
        out.append((kind, rest.split(' ', fields) if fields else rest.split()))
    return out


def completed(events):
    done = [f for k, f in events if k == 'COMPLETED']
    assert len(done) == 1, events
    event_id, instance, success, reason, error = (done[0] + [''] * 5)[:5]
    return {'success': success == '1', 'reason': reason, 'error': error}


class Peer(threading.Thread):
    """The device's end of an RFCOMM connection: keeps what it receives,
    answers each byte with one byte."""

    def __init__(self, sock, echo=True):
        super().__init__(daemon=True)
        self.sock = sock
        self.echo = echo
        self.data = b''

    def run(self):
        while True:
            try:
                b = self.sock.recv(65536)
            except OSError:
                return
            if not b:
                return
            self.data += b
            if self.echo:
                self.sock.sendall(b'!' * len(b))


class BluezTestCase(DevbgTestCase):
    config = ('[Service]\nEnableUdevBackend=false\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=1\n')

    def setUp(self):
        super().setUp()
        self.mock = subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--system',
                                      '--template', os.path.join(HERE, 'bluez_mock.py')],
                                     env=self.bus.env(), stdout=open(
                                         os.path.join(self.tmpdir, 'bluez-mock.log'), 'w'),
                                     stderr=subprocess.STDOUT)
        self.addCleanup(lambda: (self.mock.terminate(), self.mock.wait()))
        self.dbus = dbus.bus.BusConnection(self.bus.address)
        wait_for(lambda: self.dbus.name_has_owner('org.bluez'), what='the BlueZ mock')
        self.bluez = dbus.Interface(self.dbus.get_object('org.bluez', '/'), 'org.bluez.Mock')
        self.bluez.AddAdapter(ADAPTER, 'devbg-test')
        tasks = os.path.join(self.tmpdir, 'tasks')
        os.makedirs(tasks)
        os.chmod(tasks, 0o755)
        self.task_exe = os.path.join(tasks, 'devbg-test-task')
        shutil.copy2(TEST_TASK, self.task_exe)
        self.bt_task = os.path.join(tasks, 'devbg-bt-task')
        shutil.copy2(BT_TASK, self.bt_task)
        self.app = TestApp(self.tmpdir, 'bt-app')
        eps = [(ep, ['deviceUse', 'deviceServicing'], self.task_exe) for ep in ENTRY_POINTS]
        eps.append(('Bt.GattSync', ['deviceUse'], self.bt_task))
        self.devbgd.write_manifest('app.xml', manifest_xml(APP, self.app.path, eps, devices=CAPS))

    def add_band(self, paired=True, connected=True, gatt=True):
        path = self.bluez.AddDevice(ADAPTER, BAND_ADDR, 'devbg Band')
        self.assertEqual(path, BAND_PATH)
        uuids = [SPP]
        if gatt:
            uuids.append(VENDOR_SVC)
            self.bluez.AddGattService(BAND_PATH, '0010', VENDOR_SVC, [
                (DATA_CHAR, 'read,notify', dbus.ByteArray(b'steps=4242')),
                (CTRL_CHAR, 'write', dbus.ByteArray(b''))], signature='sssa(ssay)')
            self.bluez.AddGattService(BAND_PATH, '0020', OTHER_SVC, [
                (OTHER_CHAR, 'read', dbus.ByteArray(b'secret'))], signature='sssa(ssay)')
        if paired:
            self.bluez.PairDevice(ADAPTER, BAND_ADDR, 0x1f00)
        self.bluez.SetupDevice(BAND_PATH, MODALIAS, uuids)
        if connected:
            self.bluez.ConnectDevice(ADAPTER, BAND_ADDR)

    # ---- helpers ----

    def devices_json(self):
        return {d['id']: d for d in json.loads(self.devbgctl('--json', 'devices').stdout)}

    def wait_device(self, dev_id, present=True):
        wait_for(lambda: (dev_id in self.devices_json()) == present,
                 what='%s to be %s' % (dev_id, 'attached' if present else 'gone'))

    def register(self, ep, trigger='use'):
        return self.app.ok(self.bus, 'register', ep.lower(), ep, trigger)[0].split()[1]

    def run_task(self, ep, device, args='', trigger='use', duration=0):
        tid = self.register(ep, trigger)
        return parse(self.app.run(self.bus, 'run', tid, device, args, duration))

    def start_background(self, ep, device, args='', trigger='use', duration=0):
        tid = self.register(ep, trigger)
        proc = subprocess.Popen([self.app.path, 'run', tid, device, args, str(duration)],
                                env=self.bus.env(), stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        line = proc.stdout.readline().split()
        self.assertEqual(line[:3], ['RESULT', '0', 'allowed'],
                         '%s\n%s' % (line, self.devbgd.read_log()[-3000:]))
        return proc

    @staticmethod
    def rest_of(proc):
        lines = proc.stdout.read().splitlines()
        proc.wait(30)
        return lines

    def take_peer(self, uuid=SPP):
        def take():
            try:
                return self.bluez.TakePeer(BAND_PATH, uuid)
            except dbus.exceptions.DBusException:
                return None
        fd = wait_for(take, what='devbgd to connect the profile')
        return socket.socket(fileno=fd.take())


class EnumerationTest(BluezTestCase):
    def test_paired_connected_services_listed(self):
        self.add_band()
        self.devbgd.start()
        self.wait_device(RFCOMM_ID)
        self.wait_device(GATT_ID)
        devs = self.devices_json()
        self.assertEqual(devs[RFCOMM_ID]['protocol'], 'bluetooth-rfcomm')
        self.assertEqual(devs[RFCOMM_ID]['hardware-ids'], [
            'BTHENUM\\{%s}_VID&0001000F_PID&1200&REV_1436' % SPP,
            'BTHENUM\\{%s}_VID&0001000F_PID&1200' % SPP, 'BTHENUM\\{%s}' % SPP])
        self.assertEqual(devs[GATT_ID]['protocol'], 'bluetooth-gatt')
        self.assertEqual(devs[GATT_ID]['hardware-ids'][1],
                         'BTHLE\\{%s}_VID&0001000F_PID&1200' % VENDOR_SVC)
        self.assertEqual(devs[GATT_ID]['backend'], 'bluez')
        self.assertEqual(devs[GATT_ID]['name'], 'devbg Band')
        self.assertEqual(devs[RFCOMM_ID]['container-id'], devs[GATT_ID]['container-id'])
        # bluez5's PairDevice adds an Android phone's profiles: A2DP, AVRCP,
        # PAN and PnP are not RFCOMM; OBEX push (1105), HFP (111f) are.
        bt = sorted(i for i in devs if i.startswith('bluez-'))
        self.assertIn('bluez-11_22_33_44_55_66-gatt-' + OTHER_SVC, bt)
        self.assertFalse([i for i in bt if '0000110a' in i or '00001200' in i], bt)

    def test_disconnect_removes_and_reconnect_restores_same_id(self):
        self.add_band(gatt=False)
        self.devbgd.start()
        self.wait_device(RFCOMM_ID)
        self.bluez.DisconnectDevice(ADAPTER, BAND_ADDR)
        self.wait_device(RFCOMM_ID, present=False)
        self.bluez.ConnectDevice(ADAPTER, BAND_ADDR)
        self.wait_device(RFCOMM_ID)

    def test_unpaired_device_not_listed_and_refused(self):
        self.add_band(paired=False)
        self.devbgd.start()
        # Another, paired device shows the backend is following BlueZ.
        self.bluez.AddDevice(ADAPTER, 'AA:BB:CC:DD:EE:01', 'paired one')
        self.bluez.PairDevice(ADAPTER, 'AA:BB:CC:DD:EE:01', 0)
        self.bluez.ConnectDevice(ADAPTER, 'AA:BB:CC:DD:EE:01')
        self.wait_device('bluez-AA_BB_CC_DD_EE_01-rfcomm-00001105-0000-1000-8000-00805f9b34fb')
        self.assertFalse([i for i in self.devices_json() if '11_22_33' in i])
        events = self.run_task('Test.Io', RFCOMM_ID, 'count=2')
        result = [f for k, f in events if k == 'RESULT']
        self.assertNotEqual(result[0][0], '0', events)
        self.assertEqual(result[0][1], 'no-such-device', events)

    def test_user_not_at_seat_refused_without_polkit(self):
        """A paired device is the bluetooth group's (as bluetoothd's D-Bus
        policy has it); anyone else needs polkit's grant, and there is no
        polkit here."""
        self.add_band(gatt=False)
        self.devbgd.start()
        self.wait_device(RFCOMM_ID)
        tid = self.app.ok(self.bus, 'register', 'io-nobody', 'Test.Io', 'use',
                          user=65534)[0].split()[1]
        events = parse(self.app.run(self.bus, 'run', tid, RFCOMM_ID, 'count=2', 0, user=65534))
        self.assertEqual([f for k, f in events if k == 'RESULT'],
                         [['2', 'device-not-accessible', '-']])

    def test_idle_without_bluetoothd(self):
        """No org.bluez: nothing listed, no warning, and devbgd serves."""
        self.mock.terminate()
        self.mock.wait()
        self.devbgd.start()
        time.sleep(0.3)
        self.assertEqual(self.devices_json(), {})
        self.assertNotIn('WARNING', self.devbgd.read_log())


class ImpostorTest(BluezTestCase):
    """org.bluez owned by a process that is not root (a bus policy that lets
    anyone own it, as this test bus does): devbgd ignores it, so a user
    cannot present devices and hand devbgd sockets of their own."""

    def setUp(self):
        super().setUp()
        self.mock.terminate()
        self.mock.wait()
        self.mock = subprocess.Popen(['setpriv', '--reuid=65534', '--regid=65534',
                                      '--clear-groups', '/usr/bin/python3', '-m', 'dbusmock',
                                      '--system', '--template',
                                      os.path.join(HERE, 'bluez_mock.py')],
                                     env=self.bus.env(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd='/')
        wait_for(lambda: self.dbus.name_has_owner('org.bluez'), what='the impostor')
        self.bluez = dbus.Interface(self.dbus.get_object('org.bluez', '/'), 'org.bluez.Mock')
        self.bluez.AddAdapter(ADAPTER, 'devbg-test')

    def test_bluez_not_owned_by_root_ignored(self):
        self.add_band()
        self.devbgd.start()
        wait_for(lambda: 'which owns org.bluez as uid 65534' in self.devbgd.read_log(),
                 what='the warning')
        time.sleep(0.3)
        self.assertEqual([i for i in self.devices_json() if i.startswith('bluez-')], [])


class RfcommTest(BluezTestCase):
    def setUp(self):
        super().setUp()
        self.add_band(gatt=False)
        self.devbgd.start()
        self.wait_device(RFCOMM_ID)

    def test_sync_over_rfcomm_to_completion(self):
        proc = self.start_background('Test.Io', RFCOMM_ID, 'count=10 interval_ms=50')
        peer = Peer(self.take_peer())
        peer.start()
        done = completed(parse(self.rest_of(proc)))
        self.assertTrue(done['success'], done)
        # The task's writes went through BlueZ's socket to the device.
        wait_for(lambda: peer.data.count(b'.') == 10, what='10 bytes at the device')
        peer.join(5)
        self.assertFalse(peer.is_alive(), 'the connection is closed after the task')

    def test_disconnect_cancels_with_condition_loss(self):
        proc = self.start_background('Test.Io', RFCOMM_ID, 'count=0 interval_ms=50')
        peer = Peer(self.take_peer())
        peer.start()
        wait_for(lambda: peer.data.count(b'.') >= 2, what='traffic')
        self.bluez.DisconnectDevice(ADAPTER, BAND_ADDR)
        done = completed(parse(self.rest_of(proc)))
        self.assertEqual(done['reason'], 'condition-loss', done)

    def test_no_traffic_is_idle_task(self):
        proc = self.start_background('Test.Idle', RFCOMM_ID)
        peer = self.take_peer()
        done = completed(parse(self.rest_of(proc)))
        self.assertEqual(done['reason'], 'idle-task', done)
        peer.close()

    def test_new_connection_from_another_client_rejected(self):
        """Only bluetoothd may hand devbgd a device's socket."""
        proc = self.start_background('Test.Idle', RFCOMM_ID)
        self.take_peer()
        a, b = socket.socketpair()
        path = '/org/devbg/Devbg1/bluez/profile_' + SPP.replace('-', '_')
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            self.dbus.call_blocking('org.devbg.Devbg1', path, 'org.bluez.Profile1',
                                    'NewConnection', 'oha{sv}',
                                    (dbus.ObjectPath(BAND_PATH), dbus.types.UnixFd(b), {}))
        self.assertEqual(cm.exception.get_dbus_name(), 'org.bluez.Error.Rejected')
        proc.kill()


class GattTest(BluezTestCase):
    def setUp(self):
        super().setUp()
        self.add_band()
        self.devbgd.start()
        self.wait_device(GATT_ID)

    def test_sync_over_gatt_to_completion(self):
        out = os.path.join(self.tmpdir, 'out')
        os.makedirs(out)
        os.chmod(out, 0o777)  # the task runs as nobody
        result = os.path.join(out, 'result')
        args = 'ctrl=%s data=%s other=%s path=%s' % (CTRL_CHAR, DATA_CHAR, OTHER_CHAR, result)
        events = self.run_task('Bt.GattSync', GATT_ID, args)
        done = completed(events)
        self.assertTrue(done['success'], (events, self.devbgd.read_log()[-2000:]))
        # A malformed request answered with an error; written, read,
        # notified through devbgd; the characteristic of the device's other
        # service out of the task's reach.
        self.assertTrue(os.path.exists(result), (events, self.devbgd.read_log()[-2000:]))
        with open(result) as f:
            self.assertEqual(f.read(), 'bad=! write== read=steps=4242 notify=steps=4242 '
                             'other=refused')
        writes = self.bluez.GetWrites(BAND_PATH + '/service0010/char0002')
        self.assertEqual([bytes(w) for w in writes], [b'sync'])

    def test_gatt_no_operations_is_idle_task(self):
        proc = self.start_background('Test.Idle', GATT_ID)
        done = completed(parse(self.rest_of(proc)))
        self.assertEqual(done['reason'], 'idle-task', done)

    def test_gatt_disconnect_is_condition_loss(self):
        proc = self.start_background('Test.Idle', GATT_ID)
        time.sleep(0.3)
        self.bluez.DisconnectDevice(ADAPTER, BAND_ADDR)
        done = completed(parse(self.rest_of(proc)))
        self.assertEqual(done['reason'], 'condition-loss', done)


if __name__ == '__main__':
    unittest.main()
