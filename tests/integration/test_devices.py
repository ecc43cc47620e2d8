# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""devbgd's devices (org.devbg.Devbg1.Devices) and its virtual backend,
against the real devbgd and the real devbg-sim on a private system bus."""
import glob
import json
import os
import socket
import subprocess
import time
import zlib

from gi.repository import Gio, GLib

from devbgtest import DevbgTestCase, DevbgSim, DEVBG_SIM, decode_devices_page, list_devices, wait_for

IFACE = 'org.devbg.Devbg1.Devices'
ERR = 'org.devbg.Devbg1.Error.'
BAND = 'virtual-B0A1-0000'
DOCK = 'virtual-D0C1-0000'


class Channel:
    """The client side of a simulated device's protocol (sim/README.md)."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.sock.settimeout(5)
        self.buf = b''

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('the device closed the channel')
        self.buf += data

    def line(self):
        while b'\n' not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b'\n', 1)
        return line.decode()

    def read(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def ask(self, command, payload=b''):
        self.sock.sendall(command.encode() + b'\n' + payload)
        return self.line()

    def read_chunk(self, n):
        """READ n: (first, count, crc ok, records)."""
        head = self.ask('READ %d' % n).split()
        assert head[0] == 'CHUNK', head
        first, count, crc = int(head[1]), int(head[2]), int(head[3], 16)
        lines = [self.line() + '\n' for _ in range(count)]
        payload = ''.join(lines).encode()
        return first, count, zlib.crc32(payload) == crc, lines

    def close(self):
        self.sock.close()


class DevicesTest(DevbgTestCase):
    config = '[Service]\nEnableVirtualBackend=true\n'
    sim_args = ['--reset-delay-ms', '300']

    def setUp(self):
        super().setUp()
        self.sim = DevbgSim(self.bus, self.tmpdir, self.sim_args)
        self.devbgd.start()
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.events = []
        self.conn.signal_subscribe('org.devbg.Devbg1', IFACE, None, '/org/devbg/Devbg1', None,
                                   Gio.DBusSignalFlags.NONE, self._on_signal)

    def tearDown(self):
        self.sim.stop()
        self.conn.close_sync(None)
        super().tearDown()

    def _on_signal(self, conn, sender, path, iface, signal, params):
        self.events.append((signal,) + tuple(params.unpack()))

    # ---- helpers ----

    def pump(self, seconds=0.0):
        ctx = GLib.MainContext.default()
        end = time.monotonic() + seconds
        while True:
            while ctx.pending():
                ctx.iteration(False)
            if time.monotonic() >= end:
                return
            time.sleep(0.005)

    def wait_event(self, signal, device_id, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump()
            for i, e in enumerate(self.events):
                if e[0] == signal and e[1] == device_id:
                    del self.events[i]
                    return e
            time.sleep(0.005)
        raise AssertionError('no %s for %s; saw %s' % (signal, device_id, self.events))

    def no_event(self, signal, device_id, seconds):
        self.pump(seconds)
        self.assertNotIn(signal, [e[0] for e in self.events if e[1] == device_id])

    def call(self, method, args=None):
        return self.conn.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', IFACE, method, args,
                                   None, Gio.DBusCallFlags.NONE, 5000, None).unpack()

    def devices(self):
        return dict(list_devices(self.conn))

    def open(self, device_id):
        reply, fds = self.conn.call_with_unix_fd_list_sync(
            'org.devbg.Devbg1', '/org/devbg/Devbg1', IFACE, 'OpenDevice',
            GLib.Variant('(s)', (device_id,)), GLib.VariantType('(h)'), Gio.DBusCallFlags.NONE,
            5000, None, None)
        return Channel(fds.get(reply.unpack()[0]))

    def io_counter(self, device_id):
        return self.call('GetDevice', GLib.Variant('(s)', (device_id,)))[0]['io-counter']

    def sim_state(self, sim_id):
        out = self.sim.ctl('state', sim_id)
        return GLib.Variant.parse(GLib.VariantType('(a{sv})'), out.strip(), None, None).unpack()[0]

    def start_sim(self):
        self.sim.start()
        self.wait_event('DeviceAdded', BAND)
        self.wait_event('DeviceAdded', DOCK)

    def flash(self, ch, image, version, crc=None):
        self.assertEqual(ch.ask('PREPARE %d %s' % (len(image), version)), 'OK')
        for off in range(0, len(image), 4096):
            part = image[off:off + 4096]
            self.assertTrue(ch.ask('WRITE %d %d' % (off, len(part)), part).startswith('OK'))
        return ch.ask('VERIFY %08x' % (zlib.crc32(image) if crc is None else crc))

    # ---- listing and presence ----

    def test_devices_listed_with_properties(self):
        self.start_sim()
        devs = self.devices()
        self.assertEqual(sorted(devs), [BAND, DOCK])
        dock, band = devs[DOCK], devs[BAND]
        self.assertEqual(dock['hardware-ids'], ['USB\\VID_1209&PID_D0C1&REV_0100',
                                                'USB\\VID_1209&PID_D0C1'])
        self.assertEqual(dock['model-id'], '{5a1d0c11-6a0e-4c47-9d3c-2f1e0b5d0c01}')
        self.assertEqual(dock['protocol'], 'usb')
        self.assertEqual(dock['firmware-version'], '1.0.0')
        self.assertEqual(dock['serial'], 'D0C1-0000')
        self.assertEqual(dock['backend'], 'virtual')
        self.assertTrue(dock['attached'])
        self.assertTrue(dock['container-id'])
        self.assertEqual(band['hardware-ids'], ['USB\\VID_1209&PID_B0A1&REV_0100',
                                                'USB\\VID_1209&PID_B0A1'])
        self.assertEqual(band['protocol'], 'usb')
        props = self.call('GetDevice', GLib.Variant('(s)', (DOCK,)))[0]
        self.assertEqual(props['io-counter'], 0)

    def test_devices_present_before_devbgd_starts(self):
        # The simulator first, then a fresh devbgd: found by enumeration.
        self.start_sim()
        self.assertEqual(self.devbgd.stop(), 0)
        self.devbgd.start()
        for _ in range(200):
            if len(self.devices()) == 2:
                break
            time.sleep(0.01)
        self.assertEqual(sorted(self.devices()), [BAND, DOCK])

    def test_rfcomm_band(self):
        self.sim.args += ['--rfcomm', '--no-dock']
        self.sim.start()
        band = self.wait_event('DeviceAdded', BAND)[2]
        self.assertEqual(band['protocol'], 'bluetooth-rfcomm')
        self.assertTrue(band['hardware-ids'][0].startswith('BTHENUM\\'))

    def test_arrival_removal_change_signals(self):
        self.sim.args += ['--no-band', '--no-dock']
        self.sim.start()
        self.assertEqual(self.devices(), {})
        self.sim.ctl('add', 'band', 'id=b', 'serial=SER1', 'records=5')
        added = self.wait_event('DeviceAdded', 'virtual-SER1')
        self.assertEqual(added[2]['hardware-ids'][1], 'USB\\VID_1209&PID_B0A1')
        self.sim.ctl('rename', 'b', 'my band')
        self.assertEqual(self.wait_event('DeviceChanged', 'virtual-SER1')[2]['name'], 'my band')
        # devbgd keeps each device's properties between changes: the list
        # and GetDevice give the new name too.
        self.assertEqual(self.devices()['virtual-SER1']['name'], 'my band')
        self.assertEqual(self.call('GetDevice', GLib.Variant('(s)', ('virtual-SER1',)))[0]['name'],
                         'my band')
        self.sim.ctl('detach', 'b')
        self.wait_event('DeviceRemoved', 'virtual-SER1')
        self.assertEqual(self.devices(), {})
        name = self.assertRaisesRegex(GLib.Error, ERR + 'NoSuchDevice', self.call, 'GetDevice',
                                      GLib.Variant('(s)', ('virtual-SER1',)))
        # Plugged in again: the same device, by its serial.
        self.sim.ctl('attach', 'b')
        self.wait_event('DeviceAdded', 'virtual-SER1')
        self.sim.ctl('remove', 'b')
        self.wait_event('DeviceRemoved', 'virtual-SER1')

    def test_simulator_exit_removes_its_devices(self):
        self.start_sim()
        self.sim.stop()
        self.wait_event('DeviceRemoved', BAND)
        self.wait_event('DeviceRemoved', DOCK)
        self.assertEqual(self.devices(), {})
        self.sim.start()
        self.wait_event('DeviceAdded', BAND)

    def test_idle_devbgd_does_not_wake_up(self):
        self.start_sim()
        self.devices()
        def switches():
            total = 0
            for status in glob.glob('/proc/%d/task/*/status' % self.devbgd.proc.pid):
                with open(status) as f:
                    for line in f:
                        if line.startswith(('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches')):
                            total += int(line.split()[1])
            return total
        time.sleep(0.2)
        before = switches()
        time.sleep(2.0)
        self.assertLessEqual(switches() - before, 1)

    # ---- access and I/O ----

    def test_io_counter_moves_with_data_on_granted_fd(self):
        self.start_sim()
        ch = self.open(BAND)
        start = self.io_counter(BAND)
        self.assertEqual(ch.ask('PING'), 'PONG')
        after_ping = self.io_counter(BAND)
        self.assertEqual(after_ping - start, len('PING\n') + len('PONG\n'))
        self.assertEqual(ch.ask('SINK 100000', b'x' * 100000), 'OK')
        self.assertGreaterEqual(self.io_counter(BAND) - after_ping, 100000)
        ch.close()

    def test_open_refused_to_non_root_and_unknown_device(self):
        self.start_sim()
        with self.assertRaisesRegex(GLib.Error, ERR + 'NoSuchDevice'):
            self.open('virtual-nope')
        r = self.run_as_nobody('OpenDevice', BAND)
        self.assertIn(ERR + 'AccessDenied', r.stderr)
        r = self.run_as_nobody('ListDevices', "''")
        page, following = GLib.Variant.parse(GLib.VariantType('(ays)'), r.stdout.strip(),
                                             None, None).unpack()
        self.assertIn(BAND, dict(decode_devices_page(page)))
        self.assertEqual(following, '')

    def run_as_nobody(self, method, *args):
        import subprocess
        return subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                               'gdbus', 'call', '--system', '--dest', 'org.devbg.Devbg1',
                               '--object-path', '/org/devbg/Devbg1', '--method',
                               IFACE + '.' + method] + list(args),
                              env=self.bus.env(), capture_output=True, text=True, timeout=30)

    def test_band_sync_in_chunks_with_ack(self):
        self.start_sim()
        ch = self.open(BAND)
        self.assertEqual(ch.ask('HELLO'), 'BAND 1 pending=100 first=1')
        got = []
        while True:
            first, count, ok, lines = ch.read_chunk(30)
            if count == 0:
                break
            self.assertTrue(ok)
            got += lines
            self.assertEqual(ch.ask('ACK %d' % (first + count - 1)),
                             'OK %d' % (100 - len(got)))
        self.assertEqual(len(got), 100)
        self.assertEqual(self.sim_state('band0')['records-acked'], 100)

    def test_dock_update_reset_returns_same_device_new_version(self):
        self.start_sim()
        ch = self.open(DOCK)
        self.assertEqual(ch.ask('VERSION'), 'VERSION 1.0.0')
        self.assertEqual(self.flash(ch, os.urandom(50000), '2.0.0'), 'OK')
        self.assertEqual(ch.ask('RESET'), 'OK')
        self.wait_event('DeviceRemoved', DOCK)
        back = self.wait_event('DeviceAdded', DOCK)
        self.assertEqual(back[2]['firmware-version'], '2.0.0')
        self.assertEqual(self.devices()[DOCK]['firmware-version'], '2.0.0')
        ch = self.open(DOCK)
        self.assertEqual(ch.ask('VERSION'), 'VERSION 2.0.0')

    def test_dock_bad_image_comes_back_with_old_version(self):
        self.start_sim()
        ch = self.open(DOCK)
        self.assertEqual(self.flash(ch, b'\x01' * 10000, '2.0.0', crc=0x1234), 'ERR bad-image')
        self.assertEqual(ch.ask('RESET'), 'OK')
        self.wait_event('DeviceRemoved', DOCK)
        self.assertEqual(self.wait_event('DeviceAdded', DOCK)[2]['firmware-version'], '1.0.0')

    # ---- faults ----

    def test_fault_stall(self):
        self.start_sim()
        ch = self.open(BAND)
        self.sim.ctl('fault', 'band0', 'stall', 2)
        ch.sock.sendall(b'PING\n')
        counter = self.io_counter(BAND)
        t0 = time.monotonic()
        ch.sock.settimeout(1)
        with self.assertRaises(socket.timeout):
            ch.line()
        self.assertEqual(self.io_counter(BAND), counter)  # no I/O while stalled
        ch.sock.settimeout(5)
        self.assertEqual(ch.line(), 'PONG')
        self.assertGreaterEqual(time.monotonic() - t0, 1.8)

    def test_fault_slow(self):
        self.start_sim()
        ch = self.open(BAND)
        self.sim.ctl('fault', 'band0', 'slow', 300)
        t0 = time.monotonic()
        self.assertEqual(ch.ask('PING'), 'PONG')
        self.assertEqual(ch.ask('PING'), 'PONG')
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)
        self.sim.ctl('fault', 'band0', 'slow', 0)
        t0 = time.monotonic()
        self.assertEqual(ch.ask('PING'), 'PONG')
        self.assertLess(time.monotonic() - t0, 0.25)

    def test_fault_detach_at_percent(self):
        self.start_sim()
        ch = self.open(BAND)
        self.sim.ctl('fault', 'band0', 'detach-at', 50)
        read = 0
        # The channel ends: EOF, or a reset when our next command was unread.
        with self.assertRaises((EOFError, ConnectionError)):
            while True:
                first, count, ok, _ = ch.read_chunk(10)
                read += count
                self.assertGreater(count, 0)
        self.assertEqual(read, 50)
        self.wait_event('DeviceRemoved', BAND)
        self.assertFalse(self.sim_state('band0')['attached'])

    def test_fault_detach_during_firmware_write(self):
        self.start_sim()
        ch = self.open(DOCK)
        self.sim.ctl('fault', 'dock0', 'detach-at', 25)
        with self.assertRaises((EOFError, ConnectionError)):
            self.flash(ch, os.urandom(40960), '2.0.0')
        self.wait_event('DeviceRemoved', DOCK)

    def test_fault_corrupt_chunk(self):
        self.start_sim()
        ch = self.open(BAND)
        self.sim.ctl('fault', 'band0', 'corrupt-chunk', 2)
        oks = [ch.read_chunk(10)[2] for _ in range(3)]
        self.assertEqual(oks, [True, False, True])
        # On the dock, a corrupted chunk makes the image fail verification.
        ch = self.open(DOCK)
        self.sim.ctl('fault', 'dock0', 'corrupt-chunk', 1)
        self.assertEqual(self.flash(ch, os.urandom(10000), '2.0.0'), 'ERR bad-image')

    def test_fault_no_return_after_reset(self):
        self.start_sim()
        ch = self.open(DOCK)
        self.sim.ctl('fault', 'dock0', 'no-return', 1)
        self.assertEqual(self.flash(ch, os.urandom(5000), '2.0.0'), 'OK')
        self.assertEqual(ch.ask('RESET'), 'OK')
        self.wait_event('DeviceRemoved', DOCK)
        self.no_event('DeviceAdded', DOCK, 1.0)
        self.assertNotIn(DOCK, self.devices())

    def test_fault_from_command_line(self):
        self.sim.args += ['--fault', 'dock0:no-return=1']
        self.start_sim()
        ch = self.open(DOCK)
        self.assertEqual(ch.ask('RESET'), 'OK')
        self.wait_event('DeviceRemoved', DOCK)
        self.no_event('DeviceAdded', DOCK, 0.8)

    # ---- devbgctl ----

    def test_devbgctl_devices(self):
        self.start_sim()
        out = self.devbgctl('devices').stdout
        self.assertIn(DOCK, out)
        self.assertIn('USB\\VID_1209&PID_D0C1&REV_0100', out)
        js = json.loads(self.devbgctl('--json', 'devices').stdout)
        self.assertEqual(sorted(d['id'] for d in js), [BAND, DOCK])
        dock = [d for d in js if d['id'] == DOCK][0]
        self.assertEqual(dock['firmware-version'], '1.0.0')

    def test_devbgctl_devices_watch_json(self):
        import subprocess
        self.sim.args += ['--no-band', '--no-dock']
        self.sim.start()
        watch = subprocess.Popen([self.devbgctl_path(), '--json', 'devices', '--watch'],
                                 env=self.bus.env(), stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.3)
            self.sim.ctl('add', 'dock', 'id=d', 'serial=W1')
            first = json.loads(watch.stdout.readline())
            self.sim.ctl('detach', 'd')
            second = json.loads(watch.stdout.readline())
        finally:
            watch.terminate()
            watch.wait(10)
        self.assertEqual(first['event'], 'DeviceAdded')
        self.assertEqual(first['device']['id'], 'virtual-W1')
        self.assertEqual(first['device']['model-id'], '{5a1d0c11-6a0e-4c47-9d3c-2f1e0b5d0c01}')
        self.assertEqual(second, {'event': 'DeviceRemoved', 'device': 'virtual-W1'})

    def devbgctl_path(self):
        from devbgtest import DEVBGCTL
        return DEVBGCTL


class VirtualBackendOffTest(DevbgTestCase):
    """Without EnableVirtualBackend, devbgd ignores the simulator."""

    def test_no_virtual_devices_and_no_open(self):
        sim = DevbgSim(self.bus, self.tmpdir).start()
        try:
            self.devbgd.start()
            time.sleep(0.3)
            r = self.devbgctl('--json', 'devices')
            self.assertEqual(json.loads(r.stdout), [])
        finally:
            sim.stop()


class UntrustedSimulatorTest(DevbgTestCase):
    """A simulator that does not run as root is no source of devices, even on
    a bus whose policy lets anyone own org.devbg.Sim1."""
    config = '[Service]\nEnableVirtualBackend=true\n'

    def test_simulator_of_another_user_ignored(self):
        self.devbgd.start()
        sim = subprocess.Popen(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                                DEVBG_SIM, '--bus-address', self.bus.address],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            self.assertEqual(sim.stdout.readline().strip(), 'ready')
            wait_for(lambda: 'ignoring' in self.devbgd.read_log(), what='devbgd to refuse it')
            self.assertIn('as uid 65534, not root', self.devbgd.read_log())
            self.assertEqual(json.loads(self.devbgctl('--json', 'devices').stdout), [])
        finally:
            sim.terminate()
            sim.wait(10)
