# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The network backend: a device server runs in a network namespace joined
to the host by a veth pair; it is announced over DNS-SD by an Avahi-shaped
D-Bus service (avahi_mock.py: avahi-daemon is not installed here), and the
real devbgd, outside the namespace, finds it there. Observed: a servicing
task talks to the device through the socket devbgd connected and cannot
connect it to any other address; the device reboots (server restarts,
withdrawn and announced again under its instance name) and the task's
REOPEN_DEVICE gives a new connected socket; a use request is refused
(protocol-not-supported); the interface decides wired or Wi-Fi.

Needs root (ip netns). Run with /usr/bin/python3 (Debian's, which has dbusmock)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import dbus

from devbgtest import DevbgTestCase, TestApp, manifest_xml, wait_for, BUILD_DIR

HERE = os.path.dirname(os.path.abspath(__file__))
LINK_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-bt-task')
APP = 'org.devbg.test.NetApp'
TYPE = '_acmecam._tcp'
NAME = 'Acme Cam 42'
DEVICE_ID = 'net-Acme_Cam_42._acmecam._tcp'
PORT = 7420

METADATA = ('<DeviceMetadata><HardwareIds><HardwareId>DNSSD\\%s</HardwareId></HardwareIds>'
            '<SoftwareInfo><PrivilegedApplications><AnyApplication/>'
            '</PrivilegedApplications></SoftwareInfo></DeviceMetadata>\n' % TYPE)
CAPS = '<DeviceCapability Name="usb"><Device Id="hwid:DNSSD\\%s"/></DeviceCapability>' % TYPE

# The device: answers each line with its boot number and the line.
SERVER = textwrap.dedent('''
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen()
    print('ready', flush=True)
    while True:
        c, peer = s.accept()
        f = c.makefile('rwb')
        for line in f:
            f.write(b'boot=%s got=%s\\n' % (sys.argv[3].encode(), line.strip()))
            f.flush()
        c.close()
''')


def have_netns():
    return os.geteuid() == 0 and shutil.which('ip') is not None


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


class Listener(threading.Thread):
    """Another host the task must not reach: counts connections."""

    def __init__(self, address):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.accepted = 0

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            c.close()


@unittest.skipUnless(have_netns(), 'needs root and iproute2 for a network namespace')
class NetTestCase(DevbgTestCase):
    config = '[Service]\nEnableUdevBackend=false\nEnableBluezBackend=false\n'
    wireless = False
    extra_metadata = ''

    def start_avahi(self):
        return subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--system', '--template',
                                 os.path.join(HERE, 'avahi_mock.py')],
                                env=self.bus.env(), stdout=subprocess.DEVNULL)

    def setUp(self):
        super().setUp()
        n = os.getpid() % 200 + 20
        self.ns = 'devbg-net-%d' % os.getpid()
        self.host_if, self.dev_if = 'dbh%d' % os.getpid(), 'dbd%d' % os.getpid()
        self.host_ip, self.dev_ip = '10.77.%d.1' % n, '10.77.%d.2' % n
        self.ip('netns', 'add', self.ns)
        self.addCleanup(self.ip, 'netns', 'del', self.ns)
        self.ip('link', 'add', self.host_if, 'type', 'veth', 'peer', 'name', self.dev_if)
        self.addCleanup(subprocess.run, ['ip', 'link', 'del', self.host_if], capture_output=True)
        self.ip('link', 'set', self.dev_if, 'netns', self.ns)
        self.ip('addr', 'add', self.host_ip + '/24', 'dev', self.host_if)
        self.ip('link', 'set', self.host_if, 'up')
        for args in (('addr', 'add', self.dev_ip + '/24', 'dev', self.dev_if),
                     ('link', 'set', self.dev_if, 'up'), ('link', 'set', 'lo', 'up')):
            self.ip('-n', self.ns, *args)
        self.ifindex = socket.if_nametoindex(self.host_if)
        if self.wireless:
            os.makedirs(os.path.join(self.devbgd.sysfs_root, 'class', 'net', self.host_if,
                                     'wireless'))
        self.server = None
        self.start_server(1)
        self.avahi = self.start_avahi()
        self.addCleanup(lambda: (self.avahi.terminate(), self.avahi.wait()))
        self.dbus = dbus.bus.BusConnection(self.bus.address)
        wait_for(lambda: self.dbus.name_has_owner('org.freedesktop.Avahi'), what='the Avahi mock')
        self.mock = dbus.Interface(self.dbus.get_object('org.freedesktop.Avahi', '/'),
                                   'org.freedesktop.Avahi.Mock')
        self.announce()
        tasks = os.path.join(self.tmpdir, 'tasks')
        os.makedirs(tasks)
        os.chmod(tasks, 0o755)
        self.task_exe = os.path.join(tasks, 'devbg-bt-task')
        shutil.copy2(LINK_TASK, self.task_exe)
        self.out = os.path.join(self.tmpdir, 'out')
        os.makedirs(self.out)
        os.chmod(self.out, 0o777)  # the task runs as nobody
        self.app = TestApp(self.tmpdir, 'net-app')
        self.devbgd.write_manifest('app.xml', manifest_xml(
            APP, self.app.path, [('Net.Talk', ['deviceUse', 'deviceServicing'], self.task_exe)],
            devices=CAPS))
        self.devbgd.write_metadata('acmecam.xml', METADATA)
        if self.extra_metadata:
            self.devbgd.write_metadata('extra.xml', self.extra_metadata)
        self.devbgd.start()

    @staticmethod
    def ip(*args):
        subprocess.run(['ip'] + list(args), check=True, capture_output=True)

    def start_server(self, boot):
        self.server = subprocess.Popen(['ip', 'netns', 'exec', self.ns, sys.executable, '-c',
                                        SERVER, self.dev_ip, str(PORT), str(boot)],
                                       stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda s=self.server: s.poll() is None and (s.kill(), s.wait()))
        self.assertEqual(self.server.stdout.readline().strip(), 'ready')

    def announce(self):
        self.mock.AddService(NAME, TYPE, self.ifindex, self.dev_ip, dbus.UInt16(PORT))

    def devices_json(self):
        return {d['id']: d for d in json.loads(self.devbgctl('--json', 'devices').stdout)}

    def wait_device(self, dev_id, present=True):
        wait_for(lambda: (dev_id in self.devices_json()) == present,
                 what='%s to be %s' % (dev_id, 'attached' if present else 'gone'))

    def register(self, trigger):
        return self.app.ok(self.bus, 'register', 'talk-' + trigger, 'Net.Talk',
                           trigger)[0].split()[1]


class NetTest(NetTestCase):
    def test_found_by_dns_sd_as_wired(self):
        self.wait_device(DEVICE_ID)
        dev = self.devices_json()[DEVICE_ID]
        self.assertEqual(dev['protocol'], 'network-wired')
        self.assertEqual(dev['hardware-ids'], ['DNSSD\\_ACMECAM._TCP'])
        self.assertEqual(dev['backend'], 'net')

    def test_servicing_talks_to_device_only(self):
        self.wait_device(DEVICE_ID)
        other = Listener(self.host_ip)
        other.start()
        result = os.path.join(self.out, 'result')
        tid = self.register('servicing')
        events = parse(self.app.run(self.bus, 'run', tid, DEVICE_ID,
                                    'other=%s:%d path=%s' % (self.host_ip, other.port, result),
                                    60))
        self.assertTrue(completed(events)['success'], (events, self.devbgd.read_log()[-1500:]))
        with open(result) as f:
            text = f.read()
        # The device answered through the granted socket; connecting that
        # socket elsewhere fails, and nothing reached the other host.
        self.assertTrue(text.startswith('replies=boot=1 got=hello| other='), text)
        self.assertNotEqual(text.split(' other=')[1], 'connected', text)
        time.sleep(0.2)
        self.assertEqual(other.accepted, 0)

    def test_device_reboot_gives_new_socket(self):
        self.wait_device(DEVICE_ID)
        result = os.path.join(self.out, 'result')
        tid = self.register('servicing')
        proc = subprocess.Popen([self.app.path, 'run', tid, DEVICE_ID,
                                 'rounds=2 other=127.0.0.1:9 path=' + result, '60'],
                                env=self.bus.env(), stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertEqual(proc.stdout.readline().split()[:3], ['RESULT', '0', 'allowed'])
        time.sleep(0.5)  # the first exchange
        # The camera reboots: it leaves the network, its server goes down,
        # and it comes back under the same instance name.
        self.mock.RemoveService(NAME, TYPE)
        self.wait_device(DEVICE_ID, present=False)
        self.server.kill()
        self.server.wait()
        self.start_server(2)
        self.announce()
        self.wait_device(DEVICE_ID)
        events = parse(proc.stdout.read().splitlines())
        proc.wait(30)
        self.assertTrue(completed(events)['success'], (events, self.devbgd.read_log()[-2000:]))
        with open(result) as f:
            self.assertTrue(f.read().startswith('replies=boot=1 got=hello|boot=2 got=hello '))

    def test_use_request_refused(self):
        self.wait_device(DEVICE_ID)
        tid = self.register('use')
        events = parse(self.app.run(self.bus, 'run', tid, DEVICE_ID, 'path=/nonexistent', 0))
        self.assertEqual([f for k, f in events if k == 'RESULT'],
                         [['2', 'protocol-not-supported', '-']])


class ImpostorTest(NetTestCase):
    """org.freedesktop.Avahi owned by a user (uid 65534 here): devbgd
    ignores it, so a user cannot point devbgd's connections anywhere."""

    def start_avahi(self):
        return subprocess.Popen(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                                 '/usr/bin/python3', '-m', 'dbusmock', '--system', '--template',
                                 os.path.join(HERE, 'avahi_mock.py')],
                                env=self.bus.env(), stdout=subprocess.DEVNULL, cwd='/')

    def test_avahi_owned_by_a_user_ignored(self):
        wait_for(lambda: 'owns org.freedesktop.Avahi as uid 65534' in self.devbgd.read_log(),
                 what='the warning')
        time.sleep(0.3)
        self.assertNotIn(DEVICE_ID, self.devices_json())


class BadTypeTest(NetTestCase):
    """Metadata naming a DNS-SD type devbgd cannot serve (UDP) is reported
    by name and browses nothing; the good type still works."""
    extra_metadata = ('<DeviceMetadata><HardwareIds><HardwareId>DNSSD\\_acmecam._udp'
                      '</HardwareId></HardwareIds><SoftwareInfo><PrivilegedApplications>'
                      '<AnyApplication/></PrivilegedApplications></SoftwareInfo>'
                      '</DeviceMetadata>\n')

    def test_udp_type_warned_and_ignored(self):
        self.wait_device(DEVICE_ID)
        self.assertIn('DNSSD\\_ACMECAM._UDP is not a DNS-SD service type over TCP (_name._tcp); '
                      'ignored', self.devbgd.read_log())


class WifiTest(NetTestCase):
    wireless = True

    def test_wireless_interface_gives_network_wifi(self):
        self.wait_device(DEVICE_ID)
        self.assertEqual(self.devices_json()[DEVICE_ID]['protocol'], 'network-wifi')


if __name__ == '__main__':
    unittest.main()
