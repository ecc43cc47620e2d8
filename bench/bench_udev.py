# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The udev backend under umockdev, against the real devbgd on a private bus:

  udev removal-latency: from just before the test sends a device's remove
    uevent to the app reading its use task's completion with reason
    condition-loss, over many unplugs. An upper bound on "uevent to the
    task's cancel": it includes the cancel reaching the task, the task
    completing, devbgd storing the completion and sending it to the app.
  udev enumerate: how long devbgd's udev backend takes to enumerate N
    emulated USB devices at start (devbgd's own measure, from its log), and
    devbgd's memory (PSS) after it, beside the same devbgd with no devices.

Usage: bench_udev.py BUILD_DIR [ROUNDS [N]]
Runs under umockdev's preload (it re-executes itself, as test_udev does).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else 'build')
os.environ['DEVBG_BUILD_DIR'] = BUILD_DIR
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

import test_udev as tu  # noqa: E402  (re-executes under umockdev-wrapper)
from gi.repository import UMockdev  # noqa: E402
from devbgtest import PrivateBus, TestApp, manifest_xml, wait_for, DEVBGCTL  # noqa: E402

ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
N = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
CONFIG = '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=100\n'


class Bed:
    """A testbed (with its cgroup link), a bus and devbgd under umockdev."""

    def __init__(self, tmpdir, texts=(), manifest=None):
        self.testbed = UMockdev.Testbed.new()
        root = self.testbed.get_root_dir()
        os.makedirs(os.path.join(root, 'sys', 'fs'), exist_ok=True)
        self.link = os.path.join(root, 'sys', 'fs', 'cgroup')
        os.symlink('/sys/fs/cgroup', self.link)
        self.testbed.add_from_string(tu.ROOT_HUB)
        for text in texts:
            self.testbed.add_from_string(text)
        self.bus = PrivateBus(tmpdir)
        self.devbgd = tu.UmockdevDevbgd(self.testbed, self.bus, tmpdir, CONFIG)
        if manifest is not None:
            self.devbgd.write_manifest('app.xml', manifest)

    def pss_kib(self):
        with open('/proc/%d/smaps_rollup' % self.devbgd.proc.pid) as f:
            return int(re.search(r'^Pss:\s+(\d+) kB', f.read(), re.M).group(1))

    def devices(self):
        r = subprocess.run([DEVBGCTL, 'devices'], env=self.bus.env(), capture_output=True,
                           text=True, timeout=30)
        return r.stdout

    def stop(self):
        self.devbgd.stop()
        self.devbgd.remove_cgroups()
        self.bus.stop()
        os.unlink(self.link)
        self.testbed = None


def unplug(testbed, syspath):
    testbed.uevent('/sys' + syspath, 'remove')
    testbed.remove_device('/sys' + syspath)
    bus = os.path.join(testbed.get_root_dir(), 'sys', 'bus')
    for subsystem in os.listdir(bus):
        d = os.path.join(bus, subsystem, 'devices')
        for name in os.listdir(d) if os.path.isdir(d) else ():
            link = os.path.join(d, name)
            if os.path.islink(link) and not os.path.exists(link):
                os.unlink(link)


def removal_latency(tmpdir):
    tasks = os.path.join(tmpdir, 'tasks')
    os.makedirs(tasks)
    os.chmod(tasks, 0o755)
    task = os.path.join(tasks, 'devbg-test-task')
    shutil.copy2(tu.TEST_TASK, task)
    app = TestApp(tmpdir, 'bench-app')
    bed = Bed(tmpdir, [tu.band()[2]],
              manifest_xml(tu.APP, app.path, [('Test.Idle', ['deviceUse'], task)],
                           devices=tu.UDEV_DEVICE_CAPABILITIES))
    bed.devbgd.start()
    samples = []
    try:
        wait_for(lambda: tu.BAND_USB in bed.devices(), what='the band')
        tid = app.ok(bed.bus, 'register', 'idle', 'Test.Idle', 'use')[0].split()[1]
        for i in range(ROUNDS):
            proc = subprocess.Popen([app.path, 'run', tid, tu.BAND_USB, '', '0'],
                                    env=bed.bus.env(), stdout=subprocess.PIPE, text=True)
            line = proc.stdout.readline()
            while line.startswith('PENDING'):  # earlier rounds' completions
                line = proc.stdout.readline()
            if not line.startswith('RESULT 0 allowed'):
                raise SystemExit('bench: request refused: ' + line)
            # Test.Idle reports progress 0 once it runs.
            while not proc.stdout.readline().startswith('PROGRESS'):
                pass
            t0 = time.perf_counter()
            unplug(bed.testbed, tu.band()[0])
            for line in proc.stdout:
                if line.startswith('COMPLETED'):
                    samples.append(time.perf_counter() - t0)
                    if 'condition-loss' not in line:
                        raise SystemExit('bench: not a condition loss: ' + line)
                    break
            proc.wait(30)
            # Back, under another device number, as a replug is.
            bed.testbed.add_from_string(tu.band(devnum=10 + i % 100, hidraw='hidraw%d' % (i + 1),
                                                minor=i + 1, hid_index=i + 2)[2])
            wait_for(lambda: tu.BAND_USB in bed.devices(), what='the band back')
    finally:
        bed.stop()
    samples.sort()
    return samples


def many_devices(n):
    texts = []
    for i in range(n):
        port = '1-%d' % (i + 1)
        dev, dtext = tu.usb_device(port, (i % 250) + 2, '1209', '%04x' % (0x1000 + i),
                                   'SN%05d' % i, 'bench device %d' % i)
        _, itext = tu.usb_interface(dev, port, 0, 'ff')
        texts.append(dtext + '\n' + itext)
    return '\n'.join(texts)


def enumerate_figures(tmpdir):
    """(devices, ms, PSS KiB) with N devices, then (devices, ms, PSS KiB) with none."""
    out = []
    for count in (N, 0):
        d = os.path.join(tmpdir, 'enum-%d' % count)
        os.makedirs(d)
        os.chmod(d, 0o755)
        bed = Bed(d, [many_devices(count)] if count else [])
        bed.devbgd.start()
        try:
            m = wait_for(lambda: re.search(r'udev backend: (\d+) devices, enumerated in ([0-9.]+) ms',
                                           bed.devbgd.read_log()), what='enumeration')
            time.sleep(0.5)  # settled
            out.append((int(m.group(1)), float(m.group(2)), bed.pss_kib()))
        finally:
            bed.stop()
    return out


def main():
    tmpdir = tempfile.mkdtemp(prefix='devbg-bench-udev-')
    os.chmod(tmpdir, 0o755)
    try:
        lat = removal_latency(os.path.join(tmpdir, 'removal'))
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        print('udev removal-latency p50 %.1f ms p99 %.1f ms (%d unplugs, uevent to the app\'s '
              'condition-loss completion, target < 50 ms)' % (p50, p99, len(lat)), flush=True)
        (n, ms, pss), (_, ms0, pss0) = enumerate_figures(tmpdir)
        print('udev enumerate %d devices %.1f ms (none: %.1f ms); devbgd PSS %.1f MiB '
              '(none: %.1f MiB)' % (n, ms, ms0, pss / 1024, pss0 / 1024), flush=True)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == '__main__':
    main()
