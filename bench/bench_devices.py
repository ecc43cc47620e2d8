# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Devices benchmark, side by side in one run, against the real devbgd and
devbg-sim on a private bus:

  removal-latency: from just before the call that unplugs the device in the
    simulator to devbgd's DeviceRemoved signal reaching us, over many unplugs
    (an upper bound: it includes our call to the simulator);
  granted-fd throughput: bytes read from the band's channel when the fd came
    through devbgd (OpenDevice) against a connection made to the band's node
    directly, alternating runs.

Usage: bench_devices.py BUILD_DIR [ROUNDS]
"""
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else 'build')
os.environ['DEVBG_BUILD_DIR'] = BUILD_DIR
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

from gi.repository import Gio, GLib  # noqa: E402
from devbgtest import PrivateBus, Devbgd, DevbgSim, list_devices  # noqa: E402

ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 200
TRANSFER = 256 << 20  # bytes per throughput run
RUNS = 8


class Bench:
    def __init__(self, tmpdir):
        self.bus = PrivateBus(tmpdir)
        self.devbgd = Devbgd(self.bus, tmpdir, '[Service]\nEnableVirtualBackend=true\n',
                             extra_args=())
        self.devbgd.start()
        self.sim = DevbgSim(self.bus, tmpdir, ['--no-dock']).start()
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.seen = {}
        for sender, iface in (('org.devbg.Sim1', 'org.devbg.Sim1'),
                              ('org.devbg.Devbg1', 'org.devbg.Devbg1.Devices')):
            self.conn.signal_subscribe(sender, iface, None, None, None, Gio.DBusSignalFlags.NONE,
                                       self.on_signal, iface)
        self.wait(lambda: self.devices(), 'the band in devbgd')

    def on_signal(self, conn, sender, path, iface, signal, params, which):
        self.seen[(which, signal)] = time.perf_counter()

    def wait(self, pred, what, timeout=10):
        ctx = GLib.MainContext.default()
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise SystemExit('bench: timed out waiting for ' + what)
            ctx.iteration(True)

    def call(self, dest, iface, method, args=None, path=None):
        path = path or ('/org/devbg/Sim1' if dest == 'org.devbg.Sim1' else '/org/devbg/Devbg1')
        return self.conn.call_sync(dest, path, iface, method, args, None,
                                   Gio.DBusCallFlags.NONE, 10000, None)

    def devices(self):
        return list_devices(self.conn)

    def sim_call(self, method, *args):
        self.call('org.devbg.Sim1', 'org.devbg.Sim1', method,
                  GLib.Variant('(%s)' % ('s' * len(args)), args))

    def removal_latency(self):
        samples = []
        for _ in range(ROUNDS):
            self.seen.clear()
            t0 = time.perf_counter()
            self.sim_call('Detach', 'band0')
            self.wait(lambda: ('org.devbg.Devbg1.Devices', 'DeviceRemoved') in self.seen,
                      'DeviceRemoved')
            samples.append(self.seen[('org.devbg.Devbg1.Devices', 'DeviceRemoved')] - t0)
            self.seen.clear()
            self.sim_call('Attach', 'band0')
            self.wait(lambda: ('org.devbg.Devbg1.Devices', 'DeviceAdded') in self.seen,
                      'DeviceAdded')
        samples.sort()
        return samples

    def open_fd(self, granted):
        if not granted:
            # The band's node (sim/README.md), as devbgd's virtual backend opens it.
            devices = dict(self.call('org.devbg.Sim1', 'org.devbg.Sim1',
                                     'ListDevices').unpack()[0])
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(devices['band0']['node'])
            return sock
        reply, fds = self.conn.call_with_unix_fd_list_sync(
            'org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Devices', 'OpenDevice',
            GLib.Variant('(s)', ('virtual-B0A1-0000',)), None, Gio.DBusCallFlags.NONE, 10000,
            None, None)
        return socket.socket(fileno=fds.get(reply.unpack()[0]))

    def throughput(self, granted):
        sock = self.open_fd(granted)
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        sock.sendall(b'SOURCE %d\n' % TRANSFER)
        header = b''
        while not header.endswith(b'\n'):
            header += sock.recv(1)
        left = TRANSFER
        t0 = time.perf_counter()
        while left > 0:
            n = sock.recv_into(view, min(left, len(buf)))
            if n == 0:
                raise SystemExit('bench: channel closed')
            left -= n
        elapsed = time.perf_counter() - t0
        sock.close()
        return TRANSFER / elapsed / (1 << 20)

    def stop(self):
        self.sim.stop()
        self.devbgd.stop()
        self.bus.stop()


def main():
    tmpdir = tempfile.mkdtemp(prefix='devbg-bench-')
    os.chmod(tmpdir, 0o755)
    bench = Bench(tmpdir)
    try:
        lat = bench.removal_latency()
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        print('removal-latency p50 %.2f ms p99 %.2f ms (%d unplugs, target < 50 ms)'
              % (p50, p99, len(lat)), flush=True)
        granted, direct = [], []
        for i in range(RUNS):
            # Alternating which goes first, so neither always runs warm.
            for granted_fd in ((True, False) if i % 2 == 0 else (False, True)):
                (granted if granted_fd else direct).append(bench.throughput(granted_fd))
        g, d = statistics.median(granted), statistics.median(direct)
        print('granted-fd throughput %.0f MiB/s direct %.0f MiB/s ratio %.2fx'
              % (g, d, g / d), flush=True)
    finally:
        bench.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == '__main__':
    main()
