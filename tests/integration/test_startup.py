# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""devbgd takes its bus name once its backends have listed the devices
already there: a request in its first moment finds them (it was refused
no-such-device while the simulator's list was on its way). A backend whose
service does not answer delays the start by a bounded time and is named.
Against devbgd on a private bus, with a simulator that answers slowly or
never."""
import subprocess
import time

from gi.repository import Gio, GLib

from devbgtest import DevbgTestCase, FAKE_SIM_SERVE

IFACE = 'org.devbg.Devbg1.Devices'

# A simulator whose ListDevices answers after argv[2] ms (never when -1),
# with one device.
SLOW_SIM = r'''
import sys
from gi.repository import Gio, GLib
XML = """<node><interface name="org.devbg.Sim1">
<method name="ListDevices"><arg type="a(sa{sv})" direction="out"/></method>
<method name="OpenCounter"><arg type="s" direction="in"/><arg type="h" direction="out"/></method>
</interface></node>"""
DEVICES = [('slow0', {'name': GLib.Variant('s', 'slow band'), 'kind': GLib.Variant('s', 'band'),
                      'protocol': GLib.Variant('s', 'usb'),
                      'hardware-ids': GLib.Variant('as', ['USB\\VID_1209&PID_B0A1']),
                      'serial': GLib.Variant('s', 'SLOW0')})]
delay = int(sys.argv[2])
held = []
def call(conn, sender, path, iface, method, params, invocation):
    if method != 'ListDevices':
        invocation.return_dbus_error('org.devbg.Sim1.Error.NoSuchDevice', 'no counter here')
    elif delay < 0:
        held.append(invocation)
    else:
        GLib.timeout_add(delay, lambda: invocation.return_value(
            GLib.Variant('(a(sa{sv}))', (DEVICES,))) or False)
''' + FAKE_SIM_SERVE


class StartupTest(DevbgTestCase):
    config = '[Service]\nEnableVirtualBackend=true\n'

    def start_sim(self, delay_ms):
        sim = subprocess.Popen(['/usr/bin/python3', '-c', SLOW_SIM, self.bus.address,
                                str(delay_ms)], stdout=subprocess.PIPE, text=True)
        self.addCleanup(sim.wait, 10)
        self.addCleanup(sim.kill)
        self.assertEqual(sim.stdout.readline().strip(), 'ready')

    def get_device(self, device_id):
        conn = Gio.DBusConnection.new_for_address_sync(
            self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        return conn.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', IFACE, 'GetDevice',
                              GLib.Variant('(s)', (device_id,)), None, Gio.DBusCallFlags.NONE,
                              5000, None).unpack()[0]

    def test_devices_there_at_start_are_in_before_the_name(self):
        self.start_sim(800)
        self.devbgd.start()  # returns once devbgd owns its name
        self.assertEqual(self.get_device('virtual-SLOW0')['serial'], 'SLOW0')

    def test_a_service_that_never_answers_delays_the_start_a_bounded_time(self):
        self.start_sim(-1)
        t0 = time.monotonic()
        self.devbgd.start()
        self.assertLess(time.monotonic() - t0, 8)
        self.assertIn('virtual backend: its devices were not all in after 2000 ms',
                      self.devbgd.read_log())
        # It serves meanwhile: the device is simply not there yet.
        with self.assertRaises(GLib.Error) as cm:
            self.get_device('virtual-SLOW0')
        self.assertIn('NoSuchDevice', cm.exception.message)
