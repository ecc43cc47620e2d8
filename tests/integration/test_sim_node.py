# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A simulated device is opened as a real one is, through a node: each
attached devbg-sim device listens on a unix socket at <socket dir>/<id>,
given as its `node` property, and devbgd's virtual backend connect()s to it
(sim/README.md). Against the real devbg-sim and devbgd on a private bus."""
import os
import signal
import socket
import stat
import subprocess

from gi.repository import Gio, GLib

from devbgtest import (DevbgTestCase, DevbgSim, DEVBG_SIM, FAKE_SIM_SERVE, list_devices,
                       wait_for)

IFACE = 'org.devbg.Devbg1.Devices'
ERR = 'org.devbg.Devbg1.Error.'
BAND = 'virtual-B0A1-0000'


def hello(sock):
    sock.settimeout(5)
    sock.sendall(b'HELLO\n')
    data = b''
    while not data.endswith(b'\n'):
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError('the device closed the channel')
        data += chunk
    return data.decode().strip()


class SimNodeTest(DevbgTestCase):
    config = '[Service]\nEnableVirtualBackend=true\n'
    sim_args = ['--no-dock']

    def setUp(self):
        super().setUp()
        self.sim = DevbgSim(self.bus, self.tmpdir, self.sim_args)
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def tearDown(self):
        self.sim.stop()
        self.conn.close_sync(None)
        super().tearDown()

    # ---- helpers ----

    def sim_devices(self):
        out = self.sim.ctl('list').strip()
        return dict(GLib.Variant.parse(GLib.VariantType('(a(sa{sv}))'), out, None, None)
                    .unpack()[0])

    def node(self, sim_id='band0'):
        return self.sim_devices()[sim_id]['node']

    def sim_state(self, sim_id='band0'):
        out = self.sim.ctl('state', sim_id).strip()
        return GLib.Variant.parse(GLib.VariantType('(a{sv})'), out, None, None).unpack()[0]

    def call(self, method, args=None):
        return self.conn.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', IFACE, method, args,
                                   None, Gio.DBusCallFlags.NONE, 5000, None).unpack()

    def has_device(self, device_id):
        return device_id in dict(list_devices(self.conn))

    def open_device(self, device_id=BAND):
        reply, fds = self.conn.call_with_unix_fd_list_sync(
            'org.devbg.Devbg1', '/org/devbg/Devbg1', IFACE, 'OpenDevice',
            GLib.Variant('(s)', (device_id,)), GLib.VariantType('(h)'), Gio.DBusCallFlags.NONE,
            5000, None, None)
        return socket.socket(fileno=fds.get(reply.unpack()[0]))

    def io_counter(self, device_id=BAND):
        return self.call('GetDevice', GLib.Variant('(s)', (device_id,)))[0]['io-counter']

    def start_all(self):
        self.devbgd.start()
        self.sim.start()
        wait_for(lambda: self.has_device(BAND), what='devbgd to list the band')

    # ---- the node ----

    def test_node_is_a_socket_in_a_private_directory(self):
        self.sim.start()
        node = self.node()
        self.assertTrue(os.path.isabs(node), node)
        self.assertEqual(os.path.basename(node), 'band0')
        self.assertTrue(stat.S_ISSOCK(os.lstat(node).st_mode), node)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(node)).st_mode), 0o700)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(node)
            self.assertRegex(hello(s), r'^BAND 1 pending=100 first=1$')
        self.assertEqual(self.sim_state()['opens'], 1)

    def test_new_connection_replaces_the_previous_channel(self):
        self.sim.start()
        first = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        first.connect(self.node())
        self.assertTrue(hello(first).startswith('BAND 1 '))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as second:
            second.connect(self.node())
            self.assertTrue(hello(second).startswith('BAND 1 '))
            first.settimeout(5)
            self.assertEqual(first.recv(1), b'')  # a device serves one open at a time
        first.close()
        self.assertEqual(self.sim_state()['opens'], 2)

    def test_detach_removes_the_node_and_attach_brings_it_back(self):
        self.start_all()
        node = self.node()
        self.sim.ctl('detach', 'band0')
        self.assertFalse(os.path.lexists(node))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            self.assertRaises(FileNotFoundError, s.connect, node)
        wait_for(lambda: not self.has_device(BAND), what='devbgd to drop the band')
        with self.assertRaisesRegex(GLib.Error, ERR + 'NoSuchDevice'):
            self.open_device()
        self.sim.ctl('attach', 'band0')
        self.assertTrue(stat.S_ISSOCK(os.lstat(node).st_mode))
        wait_for(lambda: self.has_device(BAND), what='devbgd to list the band again')
        with self.open_device() as ch:
            self.assertTrue(hello(ch).startswith('BAND 1 '))

    def test_remove_removes_the_node(self):
        self.sim.start()
        node = self.node()
        self.sim.ctl('remove', 'band0')
        self.assertFalse(os.path.lexists(node))

    def test_open_of_a_node_gone_under_devbgd_is_not_attached(self):
        # devbgd still lists the device, but its node is gone (ENOENT), then
        # is a socket nobody listens on (ECONNREFUSED): both are a device
        # that is not attached, as the detach path answers.
        self.start_all()
        node = self.node()
        os.unlink(node)
        with self.assertRaisesRegex(GLib.Error, ERR + 'NoSuchDevice.*simulated device band0 '
                                    'is not attached'):
            self.open_device()
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dead.bind(node)
        try:
            with self.assertRaisesRegex(GLib.Error, ERR + 'NoSuchDevice.*simulated device '
                                        'band0 is not attached'):
                self.open_device()
        finally:
            dead.close()
            os.unlink(node)
        self.assertTrue(self.has_device(BAND))

    def test_stopped_simulator_does_not_block_devbgd(self):
        # A simulator that accepts nothing: opens queue on its listener up
        # to its backlog, then fail at once; devbgd keeps answering.
        self.start_all()
        self.sim.proc.send_signal(signal.SIGSTOP)
        channels = []
        try:
            error = None
            for _ in range(64):
                try:
                    channels.append(self.open_device())
                except GLib.Error as e:
                    error = e
                    break
            self.assertIsNotNone(error, 'every open was queued')
            self.assertIn(ERR + 'Failed', error.message)
            self.assertIn('Resource temporarily unavailable', error.message)
            self.assertLessEqual(len(channels), 16)
            self.assertTrue(self.has_device(BAND))
        finally:
            self.sim.proc.send_signal(signal.SIGCONT)
        # The simulator serves the queue in order; the last one wins.
        self.assertTrue(hello(channels[-1]).startswith('BAND 1 '))
        for ch in channels:
            ch.close()

    def test_devbgd_io_counter_moves(self):
        self.start_all()
        ch = self.open_device()
        self.assertTrue(hello(ch).startswith('BAND 1 '))
        # The counter is fetched when the device arrives, off the open's
        # path: once it is mapped, devbgd sees what the simulator counts.
        wait_for(lambda: self.io_counter() == self.sim_state()['io-counter'] > 0,
                 what="devbgd's I/O counter to be the simulator's")
        before = self.io_counter()
        ch.sendall(b'SINK 50000\n' + b'x' * 50000)
        ch.settimeout(5)
        self.assertEqual(ch.recv(16), b'OK\n')
        self.assertGreaterEqual(self.io_counter() - before, 50000)
        ch.close()

    def test_bad_device_id_is_refused(self):
        self.sim.start()
        for bad in ('../escape', 'a/b', '..', 'x' * 200):
            r = subprocess.run([DEVBG_SIM, 'ctl', '--bus-address', self.bus.address, 'add',
                                'band', 'id=' + bad], capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertIn('Invalid', r.stderr)
            self.assertNotIn(bad, self.sim_devices())
        self.assertEqual(os.listdir(os.path.dirname(self.node())), ['band0'])

    # ---- the simulator's directory ----

    def test_private_directory_removed_when_the_simulator_stops(self):
        self.sim.start()
        self.sim.ctl('add', 'band', 'id=extra')
        directory = os.path.dirname(self.node())
        self.assertEqual(sorted(os.listdir(directory)), ['band0', 'extra'])
        self.sim.stop()  # SIGTERM
        self.assertFalse(os.path.lexists(directory))

    def test_socket_dir_option(self):
        directory = os.path.join(self.tmpdir, 'nodes')
        self.sim = DevbgSim(self.bus, self.tmpdir, self.sim_args + ['--socket-dir', directory])
        self.sim.start()
        self.assertEqual(self.node(), os.path.join(directory, 'band0'))
        self.assertTrue(stat.S_ISSOCK(os.lstat(os.path.join(directory, 'band0')).st_mode))
        self.sim.stop()
        # Not ours to remove: only the nodes go.
        self.assertEqual(os.listdir(directory), [])


# A simulator that gives devices unusable nodes: devbgd lists them, warns
# once, and an open fails with the reason.
FAKE_SIM = r'''
import sys
from gi.repository import Gio, GLib
XML = """<node><interface name="org.devbg.Sim1">
<method name="ListDevices"><arg type="a(sa{sv})" direction="out"/></method>
<method name="OpenCounter"><arg type="s" direction="in"/><arg type="h" direction="out"/></method>
<signal name="DeviceAdded"><arg type="s"/><arg type="a{sv}"/></signal>
</interface></node>"""
def props(serial, node):
    return {'name': GLib.Variant('s', serial), 'kind': GLib.Variant('s', 'band'),
            'protocol': GLib.Variant('s', 'usb'),
            'hardware-ids': GLib.Variant('as', ['USB\\VID_1209&PID_B0A1']),
            'serial': GLib.Variant('s', serial), 'node': GLib.Variant('s', node)}
import os, socket
# own0: a node this simulator listens on itself; other0: one another
# process listens on (argv[2]), which devbgd must not hand to anyone.
own = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
own_path = os.path.join(os.path.dirname(sys.argv[2]), 'own0')
own.bind(own_path)
own.listen(8)
DEVICES = [('rel0', props('REL0', 'relative/rel0')), ('long0', props('LONG0', '/' + 'x' * 120)),
           ('none0', dict((k, v) for k, v in props('NONE0', '').items() if k != 'node')),
           ('own0', props('OWN0', own_path)), ('other0', props('OTHER0', sys.argv[2]))]
def call(conn, sender, path, iface, method, params, invocation):
    if method == 'ListDevices':
        invocation.return_value(GLib.Variant('(a(sa{sv}))', (DEVICES,)))
    else:
        invocation.return_dbus_error('org.devbg.Sim1.Error.NoSuchDevice', 'no counter here')
''' + FAKE_SIM_SERVE


class BadNodeTest(DevbgTestCase):
    config = '[Service]\nEnableVirtualBackend=true\n'

    def test_unusable_nodes_listed_and_open_fails_with_the_reason(self):
        self.devbgd.start()
        # A socket of "another service", listened on by this test process.
        nodes = os.path.join(self.tmpdir, 'nodes')
        os.mkdir(nodes)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(other.close)
        other.bind(os.path.join(nodes, 'other0'))
        other.listen(8)
        other.setblocking(False)
        fake = subprocess.Popen(['/usr/bin/python3', '-c', FAKE_SIM, self.bus.address,
                                 os.path.join(nodes, 'other0')],
                                stdout=subprocess.PIPE, text=True)
        conn = Gio.DBusConnection.new_for_address_sync(
            self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        try:
            self.assertEqual(fake.stdout.readline().strip(), 'ready')

            def devices():
                return dict(list_devices(conn))
            wait_for(lambda: len(devices()) == 5, what='the five devices')

            def open_error(device_id):
                with self.assertRaises(GLib.Error) as cm:
                    conn.call_with_unix_fd_list_sync(
                        'org.devbg.Devbg1', '/org/devbg/Devbg1', IFACE, 'OpenDevice',
                        GLib.Variant('(s)', (device_id,)), GLib.VariantType('(h)'),
                        Gio.DBusCallFlags.NONE, 5000, None, None)
                return cm.exception.message
            for device_id, reason in (('virtual-REL0', 'is not an absolute path'),
                                      ('virtual-LONG0', 'is too long for a unix socket'),
                                      ('virtual-NONE0', 'the simulator gave it no node')):
                for _ in range(2):
                    message = open_error(device_id)
                    self.assertIn(ERR + 'Failed', message)
                    self.assertIn(reason, message)
            # Root's connection to another process's socket is closed, not
            # passed on: the error names who served it.
            message = open_error('virtual-OTHER0')
            self.assertIn(ERR + 'Failed', message)
            self.assertIn('is served by pid %d, not by the simulator (pid %d)'
                          % (os.getpid(), fake.pid), message)
            conn_other, _ = other.accept()  # devbgd's connection, closed at once
            conn_other.settimeout(5)
            self.assertEqual(conn_other.recv(16), b'')
            conn_other.close()
            # The simulator's own node opens.
            reply, fds = conn.call_with_unix_fd_list_sync(
                'org.devbg.Devbg1', '/org/devbg/Devbg1', IFACE, 'OpenDevice',
                GLib.Variant('(s)', ('virtual-OWN0',)), GLib.VariantType('(h)'),
                Gio.DBusCallFlags.NONE, 5000, None, None)
            os.close(fds.get(reply.unpack()[0]))
            log = self.devbgd.read_log()
            self.assertEqual(log.count('cannot be opened: its node \'relative/rel0\''), 1)
            self.assertEqual(log.count('cannot get the I/O counter of simulated device'), 5)
        finally:
            conn.close_sync(None)
            fake.terminate()
            fake.wait(10)

