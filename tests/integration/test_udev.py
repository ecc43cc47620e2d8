# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The udev backend: the real devbgd under umockdev (its /sys, /dev and
uevents are a testbed this test drives), observed over D-Bus. Devices are
described in umockdev's text format: a USB HID band, a composite device
(HID + CDC-ACM serial + vendor interface), an MTP phone, a dock that
re-enumerates into its bootloader with another product ID, and a vendor
ioctl node. hidraw and tty nodes are ptys whose master end the test holds;
usbfs nodes are plain files; urbnum is an attribute the test sets.

Run with /usr/bin/python3 (Debian's, which has gi with UMockdev)."""
import json
import os
import select
import shutil
import subprocess
import sys
import termios
import threading
import time
import unittest


def _preloaded():
    with open('/proc/self/maps') as f:
        return 'libumockdev-preload' in f.read()


# umockdev sends a testbed's uevents only from a process that runs under
# its preload library: this one re-executes itself so (tap.py included).
# Its children (dbus-daemon, devbgctl, the test apps) run without it: an
# ASan build of them must not see it, and devbgd gets its own wrapper.
if not _preloaded():
    if shutil.which('umockdev-wrapper') is None:
        sys.exit('test_udev needs umockdev-wrapper (Debian package umockdev)')
    sys.stdout.flush()
    os.execvp('umockdev-wrapper', ['umockdev-wrapper'] + sys.orig_argv)
os.environ.pop('LD_PRELOAD', None)

import gi
gi.require_version('UMockdev', '1.0')
from gi.repository import UMockdev  # noqa: E402

from devbgtest import (DevbgTestCase, Devbgd, TestApp, manifest_xml, wait_for,  # noqa: E402
                       BUILD_DIR, DEVBGCTL)

TEST_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-test-task')
UDEV_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-udev-task')
APP = 'org.devbg.test.UdevApp'
AGENT_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'consent_agent.py')
ENTRY_POINTS = ['Test.Progress', 'Test.Idle', 'Test.Io', 'Test.ReportFds', 'Test.Fail']

HUB = '/devices/pci0000:00/0000:00:14.0/usb1'
ROOT_HUB = '''P: %s
N: bus/usb/001/001
E: DEVNAME=/dev/bus/usb/001/001
E: DEVTYPE=usb_device
E: SUBSYSTEM=usb
A: bDeviceClass=09
A: bNumInterfaces= 1
A: idVendor=1d6b
A: idProduct=0002
''' % HUB


def usb_device(port, devnum, vid, pid, serial, product, cls='00', sub='00', proto='00',
               n_if=1, rev='0100', props=(), urbnum=0):
    """A usb_device record; its path and its text."""
    path = '%s/%s' % (HUB, port)
    lines = ['P: ' + path, 'N: bus/usb/001/%03d' % devnum, 'E: DEVNAME=/dev/bus/usb/001/%03d' % devnum,
             'E: DEVTYPE=usb_device', 'E: DRIVER=usb', 'E: SUBSYSTEM=usb', 'E: MAJOR=189',
             'E: MINOR=%d' % devnum]
    lines += ['E: %s=%s' % kv for kv in props]
    attrs = [('bConfigurationValue', '1'), ('bDeviceClass', cls), ('bDeviceSubClass', sub),
             ('bDeviceProtocol', proto), ('bNumInterfaces', '%2d' % n_if), ('bcdDevice', rev),
             ('idVendor', vid), ('idProduct', pid), ('manufacturer', 'devbg test'),
             ('product', product), ('urbnum', str(urbnum))]
    if serial:
        attrs.append(('serial', serial))
    lines += ['A: %s=%s' % kv for kv in attrs]
    return path, '\n'.join(lines) + '\n'


def usb_interface(dev_path, port, num, cls, sub='00', proto='00', driver=''):
    path = '%s/%s:1.%d' % (dev_path, port, num)
    lines = ['P: ' + path, 'E: DEVTYPE=usb_interface', 'E: SUBSYSTEM=usb',
             'A: bInterfaceNumber=%02x' % num, 'A: bInterfaceClass=' + cls,
             'A: bInterfaceSubClass=' + sub, 'A: bInterfaceProtocol=' + proto]
    if driver:
        lines.append('E: DRIVER=' + driver)
    return path, '\n'.join(lines) + '\n'


# A vendor-defined usage page (FF00), usage 01: HID\VID_1209&UP:FF00_U:0001.
VENDOR_REPORT = '0600FF0901A101150026FF007508954009018102C0'


def hid_function(intf_path, vid, pid, index, hidraw, minor):
    """A HID device and its hidraw node below a USB interface."""
    hid = '%s/0003:%s:%s.%04X' % (intf_path, vid.upper(), pid.upper(), index)
    # Parents first, as the kernel adds them.
    text = ('P: %s\nE: SUBSYSTEM=hid\nE: DRIVER=hid-generic\nE: HID_ID=0003:0000%s:0000%s\n'
            'H: report_descriptor=%s\n\n' % (hid, vid.upper(), pid.upper(), VENDOR_REPORT))
    text += ('P: %s/hidraw/%s\nN: %s\nE: DEVNAME=/dev/%s\nE: SUBSYSTEM=hidraw\nE: MAJOR=240\n'
             'E: MINOR=%d\n' % (hid, hidraw, hidraw, hidraw, minor))
    return '%s/hidraw/%s' % (hid, hidraw), text


def band(port='1-1', devnum=2, hidraw='hidraw0', minor=0, urbnum=0, hid_index=1):
    """A USB HID band: one HID interface."""
    dev, dtext = usb_device(port, devnum, '1209', 'b0a1', 'BAND0001', 'devbg Band', urbnum=urbnum)
    intf, itext = usb_interface(dev, port, 0, '03', driver='usbhid')
    node, htext = hid_function(intf, '1209', 'b0a1', hid_index, hidraw, minor)
    return dev, node, '\n'.join([dtext, itext, htext])


def composite(port='1-2', devnum=3):
    """HID (interface 0) + CDC-ACM serial (1 and 2) + a vendor interface (3);
    class EF/02/01 (interface association)."""
    dev, dtext = usb_device(port, devnum, '1209', 'c0c0', 'COMBO42', 'devbg Combo', cls='ef',
                            sub='02', proto='01', n_if=4, rev='0203')
    i0, t0 = usb_interface(dev, port, 0, '03', driver='usbhid')
    hid, htext = hid_function(i0, '1209', 'c0c0', 2, 'hidraw1', 1)
    i1, t1 = usb_interface(dev, port, 1, '02', '02', '01', driver='cdc_acm')
    tty = '%s/tty/ttyACM0' % i1
    ttext = ('P: %s\nN: ttyACM0\nE: DEVNAME=/dev/ttyACM0\nE: SUBSYSTEM=tty\nE: MAJOR=166\n'
             'E: MINOR=0\n' % tty)
    _, t2 = usb_interface(dev, port, 2, '0a', driver='cdc_acm')
    _, t3 = usb_interface(dev, port, 3, 'ff', 'ff', 'ff')
    return dev, hid, tty, '\n'.join([dtext, t0, htext, t1, ttext, t2, t3])


def phone(port='1-3', devnum=4):
    dev, dtext = usb_device(port, devnum, '18d1', '4ee1', 'PHONE777', 'Pixel', n_if=1,
                            props=[('ID_MTP_DEVICE', '1')])
    _, itext = usb_interface(dev, port, 0, '06', '01', '01')
    return dev, dtext + '\n' + itext


def dock(pid, port='1-4', devnum=5, hwdb=True):
    """The dock (D0C1) or its bootloader (D0B0): one serial, and one family
    by the vendor's hwdb entry (else by their metadata)."""
    dev, dtext = usb_device(port, devnum, '1209', pid, 'DOCK0042',
                            'devbg Dock' if pid == 'd0c1' else 'devbg Dock (bootloader)',
                            cls='ff', sub='00', proto='00', rev='0100' if pid == 'd0c1' else '0001',
                            props=[('DEVBG_FAMILY', 'devbg-dock')] if hwdb else [])
    _, itext = usb_interface(dev, port, 0, 'ff')
    return dev, dtext + '\n' + itext


# A Bluetooth HID: off USB, named by its address.
BT_HID = '/devices/virtual/misc/uhid/0005:046D:B33A.0007'
BT_HID_TEXT = '''P: %s
E: SUBSYSTEM=hid
E: HID_ID=0005:0000046D:0000B33A
E: HID_UNIQ=aa:bb:cc:dd:ee:ff
H: report_descriptor=%s

P: %s/hidraw/hidraw9
N: hidraw9
E: DEVNAME=/dev/hidraw9
E: SUBSYSTEM=hidraw
E: MAJOR=240
E: MINOR=9
''' % (BT_HID, VENDOR_REPORT, BT_HID)
BT_HID_ID = 'udev-hid-046D-B33A-aa_bb_cc_dd_ee_ff'

IOCTL_NODE = '/devices/virtual/misc/acmeio0'
IOCTL = '''P: %s
N: acmeio0
E: DEVNAME=/dev/acmeio0
E: SUBSYSTEM=misc
E: MAJOR=10
E: MINOR=200
E: DEVBG_PROTOCOL=generic-ioctl
E: DEVBG_HARDWARE_IDS=ACME\\IO_0001;ACME\\IO
''' % IOCTL_NODE


def device_id(vid, product, serial, function):
    return 'udev-%s-%s-s%s-%s' % (vid, product, serial, function)


BAND = device_id('1209', 'B0A1', 'BAND0001', 'hid00')
BAND_USB = device_id('1209', 'B0A1', 'BAND0001', 'usb')
COMBO_HID = device_id('1209', 'C0C0', 'COMBO42', 'hid00')
COMBO_TTY = device_id('1209', 'C0C0', 'COMBO42', 'tty01')
COMBO_USB = device_id('1209', 'C0C0', 'COMBO42', 'usb')
PHONE = device_id('18D1', '4EE1', 'PHONE777', 'usb')
DOCK = device_id('1209', 'devbg-dock', 'DOCK0042', 'usb')
IOCTL_ID = 'udev-misc-acmeio0'


# The vendor's metadata for the dock, listing its bootloader too.
DOCK_METADATA = '''<?xml version="1.0" encoding="UTF-8"?>
<DeviceMetadata>
  <ModelId>{5a1d0c11-6a0e-4c47-9d3c-2f1e0b5d0c01}</ModelId>
  <HardwareIds>
    <HardwareId>USB\\VID_1209&amp;PID_D0C1</HardwareId>
    <HardwareId>USB\\VID_1209&amp;PID_D0B0</HardwareId>
  </HardwareIds>
  <SoftwareInfo xmlns="http://schemas.microsoft.com/windows/DeviceMetadata/SoftwareInfo/2011">
    <PrivilegedApplications>
      <Package><Identity><Name>org.devbg.test.UdevApp</Name></Identity></Package>
    </PrivilegedApplications>
  </SoftwareInfo>
</DeviceMetadata>
'''
DOCK_BY_METADATA = device_id('1209', 'md-5a1d0c11', 'DOCK0042', 'usb')

# The devices the test app declares it may use (its manifest's
# DeviceCapability): the USB functions by vendor and product (an MTP phone
# and the serial port of a USB function are USB devices), the HID ones too,
# and the vendor's ioctl node, which has no vendor and product, by its
# hardware ID.
UDEV_DEVICE_CAPABILITIES = (
    '<DeviceCapability Name="usb">'
    '<Device Id="vidpid:1209 B0A1"/><Device Id="vidpid:1209 C0C0"/>'
    '<Device Id="vidpid:18D1 4EE1"/><Device Id="vidpid:1209 D0C1"/>'
    '<Device Id="vidpid:1209 D0B0"/><Device Id="hwid:ACME\\IO_0001"/>'
    '</DeviceCapability>'
    '<DeviceCapability Name="humaninterfacedevice">'
    '<Device Id="vidpid:1209 B0A1"/><Device Id="vidpid:1209 C0C0"/>'
    '</DeviceCapability>')

# Servicing needs the device's metadata to name the app: any app may update
# the phone and the ioctl device in these tests.
UDEV_METADATA_ANY_APP = (
    '<DeviceMetadata><HardwareIds>'
    '<HardwareId>USB\\VID_18D1&amp;PID_4EE1</HardwareId>'
    '<HardwareId>ACME\\IO_0001</HardwareId>'
    '</HardwareIds><SoftwareInfo><PrivilegedApplications><AnyApplication/>'
    '</PrivilegedApplications></SoftwareInfo></DeviceMetadata>\n')


class UmockdevDevbgd(Devbgd):
    """devbgd under umockdev-wrapper: its /sys and /dev are @testbed's."""

    def __init__(self, testbed, *args, **kw):
        self.testbed = testbed
        super().__init__(*args, **kw)

    def args(self):
        # ASan must come first in the preload list (TESTING-NOTES.md).
        asan = 'verify_asan_link_order=0:' + os.environ.get('ASAN_OPTIONS', '')
        return ['env', 'UMOCKDEV_DIR=' + self.testbed.get_root_dir(), 'ASAN_OPTIONS=' + asan,
                'umockdev-wrapper'] + super().args()


@unittest.skipIf(os.environ.get('DEVBG_HAVE_GUDEV') == '0', 'devbgd was built without GUdev')
class UdevTestCase(DevbgTestCase):
    config = '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=100\n'
    devices = ()  # umockdev texts added before devbgd starts
    metadata = ()  # (file name, text)

    def setUp(self):
        super().setUp()
        self.testbed = UMockdev.Testbed.new()
        root = self.testbed.get_root_dir()
        # The testbed is all of /sys to devbgd; task cgroups live in the real
        # cgroupfs, which the kernel reaches through this link. The link
        # goes first when the testbed is dropped (umockdev's removal does not
        # follow links; this does not rely on it).
        os.makedirs(os.path.join(root, 'sys', 'fs'), exist_ok=True)
        link = os.path.join(root, 'sys', 'fs', 'cgroup')
        os.symlink('/sys/fs/cgroup', link)
        self.addCleanup(self.drop_testbed, link)
        self.testbed.add_from_string(ROOT_HUB)
        for text in self.devices:
            self.testbed.add_from_string(text)
        self.devbgd = UmockdevDevbgd(self.testbed, self.bus, self.tmpdir, self.config)
        tasks = os.path.join(self.tmpdir, 'tasks')
        os.makedirs(tasks)
        os.chmod(tasks, 0o755)
        self.task_exe = os.path.join(tasks, 'devbg-test-task')
        shutil.copy2(TEST_TASK, self.task_exe)
        self.udev_task = os.path.join(tasks, 'devbg-udev-task')
        shutil.copy2(UDEV_TASK, self.udev_task)
        self.app = TestApp(self.tmpdir, 'udev-app')
        eps = [(ep, ['deviceUse', 'deviceServicing'], self.task_exe) for ep in ENTRY_POINTS]
        eps.append(('Udev.Reopen', ['deviceServicing'], self.udev_task))
        self.devbgd.write_manifest('app.xml', manifest_xml(APP, self.app.path, eps,
                                                           devices=UDEV_DEVICE_CAPABILITIES))
        self.devbgd.write_metadata('udev-any-app.xml', UDEV_METADATA_ANY_APP)
        for name, text in self.metadata:
            self.devbgd.write_metadata(name, text)
        self.devbgd.start()

    def drop_testbed(self, link):
        os.unlink(link)
        self.testbed = None

    # ---- helpers ----

    def devices_json(self):
        return {d['id']: d for d in json.loads(self.devbgctl('--json', 'devices').stdout)}

    def wait_device(self, dev_id, present=True):
        wait_for(lambda: (dev_id in self.devices_json()) == present,
                 what='%s to be %s' % (dev_id, 'attached' if present else 'gone'))

    def add(self, text):
        self.testbed.add_from_string(text)

    def unplug(self, syspath):
        self.testbed.uevent('/sys' + syspath, 'remove')
        self.testbed.remove_device('/sys' + syspath)
        # umockdev leaves the /sys/bus links of removed devices, and will not
        # add a device on the same port again while they are there.
        bus = os.path.join(self.testbed.get_root_dir(), 'sys', 'bus')
        for subsystem in os.listdir(bus):
            d = os.path.join(bus, subsystem, 'devices')
            for name in os.listdir(d) if os.path.isdir(d) else ():
                link = os.path.join(d, name)
                if os.path.islink(link) and not os.path.exists(link):
                    os.unlink(link)

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
        self.assertEqual(line[:3], ['RESULT', '0', 'allowed'], line)
        return proc

    @staticmethod
    def rest_of(proc):
        """The lines @proc prints until it exits. Through the same buffered
        reader as the lines read before: communicate() would read the pipe
        beside it and miss what that reader had taken ahead."""
        lines = proc.stdout.read().splitlines()
        proc.wait(30)
        return lines

    @staticmethod
    def completed(events):
        done = [f for k, f in events if k == 'COMPLETED']
        assert len(done) == 1, events
        event_id, instance, success, reason, error = (done[0] + [''] * 5)[:5]
        return {'success': success == '1', 'reason': reason, 'error': error}


def parse(lines):
    out = []
    for line in lines:
        kind, _, rest = line.partition(' ')
        fields = {'COMPLETED': 4, 'PENDING': 5}.get(kind)
        out.append((kind, rest.split(' ', fields) if fields else rest.split()))
    return out


class Drain(threading.Thread):
    """Reads what a task writes to a pty-backed node, from the master end."""

    def __init__(self, fd):
        super().__init__(daemon=True)
        self.fd = fd
        self.data = b''
        self.running = True

    def run(self):
        while self.running:
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    self.data += os.read(self.fd, 4096)
                except OSError:
                    # EIO while no one holds the node open yet.
                    time.sleep(0.02)

    def stop(self):
        self.running = False
        self.join(5)


class EnumerationTest(UdevTestCase):
    devices = (band()[2], composite()[3], phone()[1], dock('d0c1')[1], IOCTL, BT_HID_TEXT)

    def test_devices_with_hardware_ids_and_containers(self):
        for d in (BAND, BAND_USB, COMBO_HID, COMBO_TTY, COMBO_USB, PHONE, DOCK, IOCTL_ID, BT_HID_ID):
            self.wait_device(d)
        devs = self.devices_json()
        # The root hub is the bus, not a device.
        self.assertEqual(sorted(devs), sorted([BAND, BAND_USB, COMBO_HID, COMBO_TTY, COMBO_USB,
                                               PHONE, DOCK, IOCTL_ID, BT_HID_ID]))
        self.assertEqual(devs[BT_HID_ID]['hardware-ids'], [
            'HID\\VID_046D&PID_B33A', 'HID\\VID_046D&UP:FF00_U:0001', 'HID_DEVICE_UP:FF00_U:0001',
            'HID_DEVICE'])
        self.assertEqual(devs[BT_HID_ID]['protocol'], 'hid')
        self.assertEqual(devs[BAND]['protocol'], 'hid')
        self.assertEqual(devs[BAND]['hardware-ids'], [
            'HID\\VID_1209&PID_B0A1&REV_0100', 'HID\\VID_1209&PID_B0A1',
            'HID\\VID_1209&UP:FF00_U:0001', 'HID_DEVICE_UP:FF00_U:0001', 'HID_DEVICE'])
        self.assertEqual(devs[BAND_USB]['protocol'], 'usb')
        self.assertEqual(devs[BAND_USB]['hardware-ids'], [
            'USB\\VID_1209&PID_B0A1&REV_0100', 'USB\\VID_1209&PID_B0A1',
            'USB\\Class_03&SubClass_00&Prot_00', 'USB\\Class_03&SubClass_00', 'USB\\Class_03'])
        self.assertEqual(devs[BAND]['serial'], 'BAND0001')
        self.assertEqual(devs[BAND]['backend'], 'udev')
        self.assertEqual(devs[BAND]['node'], '/dev/hidraw0')
        self.assertEqual(devs[BAND]['firmware-version'], '1.00')
        # A composite device: every function in one container, interface IDs.
        self.assertEqual(devs[COMBO_HID]['hardware-ids'][:2], [
            'HID\\VID_1209&PID_C0C0&REV_0203&MI_00', 'HID\\VID_1209&PID_C0C0&MI_00'])
        self.assertEqual(devs[COMBO_TTY]['protocol'], 'usb')
        self.assertEqual(devs[COMBO_TTY]['hardware-ids'], [
            'USB\\VID_1209&PID_C0C0&REV_0203&MI_01', 'USB\\VID_1209&PID_C0C0&MI_01',
            'USB\\Class_02&SubClass_02&Prot_01', 'USB\\Class_02&SubClass_02', 'USB\\Class_02'])
        self.assertEqual(devs[COMBO_USB]['hardware-ids'], [
            'USB\\VID_1209&PID_C0C0&REV_0203', 'USB\\VID_1209&PID_C0C0',
            'USB\\DevClass_EF&SubClass_02&Prot_01', 'USB\\DevClass_EF&SubClass_02',
            'USB\\DevClass_EF', 'USB\\COMPOSITE'])
        combo = {devs[d]['container-id'] for d in (COMBO_HID, COMBO_TTY, COMBO_USB)}
        self.assertEqual(len(combo), 1)
        self.assertEqual(devs[BAND]['container-id'], devs[BAND_USB]['container-id'])
        self.assertNotIn(devs[BAND]['container-id'], combo)
        self.assertRegex(combo.pop(), '^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')
        self.assertEqual(devs[PHONE]['protocol'], 'mtp')
        self.assertEqual(devs[PHONE]['hardware-ids'][-1], 'USB\\MS_COMP_MTP')
        self.assertEqual(devs[IOCTL_ID]['protocol'], 'generic-ioctl')
        self.assertEqual(devs[IOCTL_ID]['hardware-ids'], ['ACME\\IO_0001', 'ACME\\IO'])
        self.assertEqual(devs[DOCK]['name'], 'devbg Dock')

    def test_arrival_and_removal_are_followed(self):
        self.wait_device(BAND)
        watch = subprocess.Popen([DEVBGCTL, 'devices', '--watch'],
                                 env=self.bus.env(), stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: watch.poll() is None and watch.kill())
        time.sleep(0.3)  # subscribed
        dev, node, text = band(port='1-5', devnum=9, hidraw='hidraw5', minor=5, hid_index=9)
        # Same serial on another port: another attachment of the same band.
        self.unplug(band()[0])
        self.wait_device(BAND, present=False)
        self.add(text)
        self.wait_device(BAND)
        self.assertEqual(self.devices_json()[BAND]['node'], '/dev/hidraw5')
        watch.terminate()
        out = watch.communicate(timeout=10)[0]
        self.assertRegex(out, r'removed +%s' % BAND)
        self.assertRegex(out, r'added +%s HID\\VID_1209' % BAND)


class BadStringsTest(UdevTestCase):
    """A device whose product and serial strings are not UTF-8 (sysfs hands
    out bytes): devbgd lists it with valid strings and keeps serving."""
    bad_path, bad_text = usb_device('1-7', 8, '1209', 'bad0', '', 'x')
    devices = (band()[2], bad_text.replace('A: product=x\n', 'H: product=C328FF41\n')
               .replace('A: urbnum=0\n', 'A: urbnum=0\nH: serial=FE4142\n'))

    def test_invalid_utf8_from_device(self):
        self.wait_device(BAND)
        devs = self.devices_json()
        bad = [d for i, d in devs.items() if 'PID_BAD0' in d['hardware-ids'][0]]
        self.assertEqual(len(bad), 1, devs)
        self.assertEqual(bad[0]['name'], '\ufffd(\ufffdA')
        self.assertEqual(bad[0]['serial'], '\ufffdAB')
        self.assertIn(BAND, self.devices_json())


class CliTest(UdevTestCase):
    # A vendor node at a path the real /dev also has, there only for root
    # (a file in /dev/shm, 0600): devbgctl runs outside the testbed and
    # tells what the calling user may open.
    SHM_NODE = 'shm/devbg-udev-test-%d' % os.getpid()
    devices = (band()[2], IOCTL.replace('N: acmeio0', 'N: ' + SHM_NODE)
               .replace('/dev/acmeio0', '/dev/' + SHM_NODE).replace('acmeio0', 'acmeio7'))

    def setUp(self):
        path = '/dev/' + self.SHM_NODE
        with open(path, 'w'):
            pass
        os.chmod(path, 0o600)
        self.addCleanup(os.unlink, path)
        super().setUp()

    def test_devices_columns(self):
        self.wait_device(BAND)
        out = self.devbgctl('devices').stdout.splitlines()
        self.assertEqual(out[0].split(), ['ID', 'PROTOCOL', 'FIRMWARE', 'ACCESS', 'CONTAINER',
                                          'NAME', 'HARDWARE', 'IDS'])
        rows = {line.split()[0]: line.split() for line in out[1:]}
        container = self.devices_json()[BAND]['container-id'].split('-')[0]
        self.assertEqual(rows[BAND][:5], [BAND, 'hid', '1.00', 'no', container])
        self.assertIn('HID\\VID_1209&PID_B0A1&REV_0100', rows[BAND])
        self.assertEqual(rows['udev-misc-acmeio7'][1:4], ['generic-ioctl', '-', 'rw'])
        r = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                            DEVBGCTL, '--json', 'devices'], env=self.bus.env(),
                           capture_output=True, text=True, timeout=30)
        access = {d['id']: d['access'] for d in json.loads(r.stdout)}
        self.assertEqual(access['udev-misc-acmeio7'], 'no')
        self.assertEqual(access[BAND], 'no')  # /dev/hidraw0 is the testbed's only


class TaskTest(UdevTestCase):
    devices = (band(urbnum=7)[2], composite()[3], phone()[1], IOCTL)

    def setUp(self):
        super().setUp()
        for d in (BAND, COMBO_TTY, PHONE, IOCTL_ID):
            self.wait_device(d)

    def test_sync_on_hid_band_to_completion(self):
        master = self.testbed.get_dev_fd('/dev/hidraw0')
        drain = Drain(master)
        drain.start()
        events = self.run_task('Test.Io', BAND, 'count=12 interval_ms=50')
        drain.stop()
        done = self.completed(events)
        self.assertTrue(done['success'], events)
        # What the task wrote went to the band's node.
        self.assertEqual(drain.data.count(b'.'), 12)

    def test_unplug_cancels_use_task_with_condition_loss(self):
        proc = self.start_background('Test.Idle', BAND)
        time.sleep(0.3)
        self.unplug(band()[0])
        done = self.completed(parse(self.rest_of(proc)))
        self.assertEqual(done['reason'], 'condition-loss')

    def test_failure_after_unplug_not_yet_told_is_condition_loss(self):
        # The kernel has taken the band out of sysfs, and udev has not yet
        # told devbgd (no uevent here at all): the task fails first, of
        # the band's going, and leaves. Its removal is still the reason.
        proc = self.start_background('Test.Fail', BAND, 'message=band-gone delay_ms=800')
        time.sleep(0.3)
        self.testbed.remove_device('/sys' + band()[0])
        done = self.completed(parse(self.rest_of(proc)))
        self.assertFalse(done['success'], done)
        self.assertEqual(done['reason'], 'condition-loss', done)
        self.assertIn('band-gone', done['error'])

    def test_failure_with_band_attached_has_no_reason(self):
        proc = self.start_background('Test.Fail', BAND, 'message=own-fault delay_ms=300')
        done = self.completed(parse(self.rest_of(proc)))
        self.assertEqual((done['reason'], done['error']), ('-', 'own-fault'), done)  # no reason

    def test_serial_port_is_handed_in_raw_mode(self):
        master = self.testbed.get_dev_fd('/dev/ttyACM0')
        # A line as a fresh tty has it: canonical, echoing (umockdev's pty
        # starts raw), so that devbgd's raw mode shows.
        cooked = termios.tcgetattr(master)
        cooked[3] |= termios.ICANON | termios.ECHO | termios.ISIG
        termios.tcsetattr(master, termios.TCSANOW, cooked)
        drain = Drain(master)
        drain.start()
        proc = self.start_background('Test.Io', COMBO_TTY, 'count=8 interval_ms=50')
        done = self.completed(parse(self.rest_of(proc)))
        drain.stop()
        self.assertTrue(done['success'], done)
        lflag = termios.tcgetattr(master)[3]
        self.assertFalse(lflag & (termios.ICANON | termios.ECHO | termios.ISIG))
        self.assertEqual(drain.data.count(b'.'), 8)

    def test_mtp_and_ioctl_are_for_servicing_only(self):
        for dev in (PHONE, IOCTL_ID):
            events = self.run_task('Test.Progress', dev, 'count=2')
            result = [e for e in events if e[0] == 'RESULT']
            self.assertEqual(result, [('RESULT', ['2', 'protocol-not-supported', '-'])], dev)
            events = self.run_task('Test.Progress', dev, 'count=2', trigger='servicing',
                                   duration=60)
            self.assertTrue(self.completed(events)['success'], (dev, events))


class ConsentModelTest(UdevTestCase):
    """Use consent is stored per device model. A device without a model ID
    (no DEVBG_MODEL_ID, as most are) is the model of its product: one
    answer for the band used to be stored for model "", which then covered
    every device without a model ID, the combo here, or a hostile one
    plugged in later."""
    config = UdevTestCase.config + 'HeadlessConsent=deny\n'
    devices = (band()[2], composite()[3])

    def test_consent_for_one_product_covers_no_other(self):
        self.wait_device(BAND_USB)
        self.wait_device(COMBO_USB)
        devices = self.devices_json()
        self.assertEqual((devices[BAND_USB]['model-id'], devices[COMBO_USB]['model-id']), ('', ''))
        log = os.path.join(self.tmpdir, 'agent.log')
        agent = subprocess.Popen(['/usr/bin/python3', AGENT_SCRIPT, '--mode', 'allow', '--log', log],
                                 env=self.bus.env(), stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (agent.terminate(), agent.wait(10)))
        self.assertEqual(agent.stdout.readline().strip(), 'ready')

        def prompts():
            with open(log) as f:
                return [json.loads(l)['details'] for l in f if 'RequestConsent' in l]

        for device in (BAND_USB, BAND_USB, COMBO_USB):
            events = self.run_task('Test.Progress', device, 'count=2 interval_ms=10')
            self.assertEqual([f[:2] for k, f in events if k == 'RESULT'], [['0', 'allowed']],
                             events)
        # Asked for the band once (the second run was covered), then for
        # the combo: another product.
        self.assertEqual([p['model-id'] for p in prompts()],
                         ['USB\\VID_1209&PID_B0A1', 'USB\\VID_1209&PID_C0C0'])
        stored = json.loads(self.devbgctl('--json', 'permissions').stdout)
        self.assertEqual(sorted(p['model-id'] for p in stored),
                         ['USB\\VID_1209&PID_B0A1', 'USB\\VID_1209&PID_C0C0'])


class ContainerMetadataTest(UdevTestCase):
    """Metadata that names a composite device by its USB IDs covers its HID
    and serial functions: they share its container."""
    devices = (composite()[3],)
    metadata = (('combo.xml',
                 '<DeviceMetadata><HardwareIds><HardwareId>USB\\VID_1209&amp;PID_C0C0'
                 '</HardwareId></HardwareIds><SoftwareInfo><PrivilegedApplications>'
                 '<Package><Identity><Name>%s</Name></Identity></Package>'
                 '</PrivilegedApplications></SoftwareInfo></DeviceMetadata>\n' % APP),)

    def test_functions_share_their_container_metadata(self):
        for d in (COMBO_USB, COMBO_HID, COMBO_TTY):
            self.wait_device(d)
        master = self.testbed.get_dev_fd('/dev/hidraw0')
        drain = Drain(master)
        drain.start()
        events = self.run_task('Test.Progress', COMBO_HID, 'count=2', trigger='servicing',
                               duration=60)
        drain.stop()
        self.assertTrue(self.completed(events)['success'], events)


class NoContainerMetadataTest(UdevTestCase):
    devices = (composite()[3],)

    def test_no_metadata_for_any_function(self):
        self.wait_device(COMBO_HID)
        events = self.run_task('Test.Progress', COMBO_HID, 'count=2', trigger='servicing',
                               duration=60)
        self.assertEqual([e for e in events if e[0] == 'RESULT'],
                         [('RESULT', ['2', 'no-device-metadata', '-'])])


class LivenessTest(UdevTestCase):
    config = '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=1\n'
    devices = (band(urbnum=7)[2], composite()[3])

    def test_idle_task_when_urbnum_stops(self):
        self.wait_device(COMBO_USB)
        dev = composite()[0]
        proc = self.start_background('Test.Idle', COMBO_USB)
        start = time.monotonic()
        n = 100
        # URBs keep flowing for 3 windows: the task lives on.
        while time.monotonic() - start < 3.2:
            n += 1
            self.testbed.set_attribute('/sys' + dev, 'urbnum', str(n))
            time.sleep(0.1)
        self.assertIsNone(proc.poll(), 'canceled although urbnum moved')
        stopped = time.monotonic()
        done = self.completed(parse(self.rest_of(proc)))
        self.assertEqual(done['reason'], 'idle-task')
        self.assertLess(time.monotonic() - stopped, 4.0)

    def test_hid_node_activity_counts(self):
        # Idle but for the task's own writes to the hidraw node: urbnum stays.
        self.wait_device(BAND)
        master = self.testbed.get_dev_fd('/dev/hidraw0')
        drain = Drain(master)
        drain.start()
        events = self.run_task('Test.Io', BAND, 'count=30 interval_ms=100')
        drain.stop()
        self.assertTrue(self.completed(events)['success'], events)
        events = self.run_task('Test.Idle', BAND)
        self.assertEqual(self.completed(events)['reason'], 'idle-task')


class ReenumerationTest(UdevTestCase):
    """A servicing task on the dock across its reset into the bootloader
    (another product ID) and back: one device by the vendor's hwdb entry."""
    devices = (dock('d0c1')[1],)
    dock_id = DOCK
    hwdb = True
    # Servicing needs metadata naming the app; this one does not tie the
    # bootloader to the dock (the hwdb entry does).
    metadata = (('dock-any-app.xml',
                 '<DeviceMetadata><HardwareIds><HardwareId>USB\\VID_1209&amp;PID_D0C1'
                 '</HardwareId></HardwareIds><SoftwareInfo><PrivilegedApplications>'
                 '<AnyApplication/></PrivilegedApplications></SoftwareInfo>'
                 '</DeviceMetadata>\n'),)

    def test_servicing_across_bootloader_and_back(self):
        self.wait_device(self.dock_id)
        tid = self.register('Udev.Reopen', 'servicing')
        proc = subprocess.Popen([self.app.path, 'run', tid, self.dock_id, 'resets=2', '60'],
                                env=self.bus.env(), stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        lines = []

        def wait_progress(value):
            while True:
                line = proc.stdout.readline()
                self.assertTrue(line, 'task output ended: %s' % lines)
                lines.append(line.strip())
                fields = line.split()
                if fields[0] == 'PROGRESS' and fields[2] == str(value):
                    return

        self.assertEqual(proc.stdout.readline().split()[:3], ['RESULT', '0', 'allowed'])
        wait_progress(0)
        dev = dock('d0c1')[0]
        # Into the bootloader: another product ID, the same serial.
        self.unplug(dev)
        self.add(dock('d0b0', devnum=6, hwdb=self.hwdb)[1])
        wait_progress(1)
        self.assertEqual(self.devices_json()[self.dock_id]['hardware-ids'][1],
                         'USB\\VID_1209&PID_D0B0')
        # And back, with the new firmware.
        self.unplug(dev)
        self.add(dock('d0c1', devnum=7, hwdb=self.hwdb)[1].replace('bcdDevice=0100',
                                                                   'bcdDevice=0200'))
        wait_progress(2)
        out = '\n'.join(self.rest_of(proc))
        done = self.completed(parse(lines + out.splitlines()))
        self.assertTrue(done['success'], (lines, out))
        self.assertEqual(self.devices_json()[self.dock_id]['firmware-version'], '2.00')


class MetadataReenumerationTest(ReenumerationTest):
    """The same, one device by the vendor's metadata naming both products."""
    devices = (dock('d0c1', hwdb=False)[1],)
    metadata = (('dock.xml', DOCK_METADATA),)
    dock_id = DOCK_BY_METADATA
    hwdb = False


class NoFamilyTest(UdevTestCase):
    """Without a family, the bootloader is another device: a servicing task
    waiting for the dock is not handed it."""
    devices = (dock('d0c1', hwdb=False)[1],)

    def test_bootloader_is_another_device(self):
        plain = device_id('1209', 'D0C1', 'DOCK0042', 'usb')
        self.wait_device(plain)
        self.unplug(dock('d0c1')[0])
        self.add(dock('d0b0', devnum=6, hwdb=False)[1])
        self.wait_device(device_id('1209', 'D0B0', 'DOCK0042', 'usb'))
        self.assertNotIn(plain, self.devices_json())


if __name__ == '__main__':
    unittest.main()
