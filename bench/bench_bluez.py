# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The BlueZ backend's cost, against the real devbgd and test_bluez's
BlueZ-shaped service (python-dbusmock's bluez5, extended):

  rfcomm relay throughput: a use task writes MIB MiB into its RFCOMM
    socket, which devbgd relays to the connection BlueZ handed it (a
    socketpair in the mock; the test holds the device's end and reads it);
    "direct" is the same writer (dd, 64 KiB writes) on a socketpair to the
    same reader with no devbgd between. Timed at the reader, first byte
    to last.
  gatt ops: a use task does OPS characteristic reads over devbgd's GATT
    channel (devbgd makes each a ReadValue call to the service); "direct"
    is the same reads as ReadValue calls from a C client on the bus.

Each is measured 5 times side by side; the round with the median ratio is
printed.

Usage: bench_bluez.py BUILD_DIR [MIB [OPS]]
"""
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else 'build')
os.environ['DEVBG_BUILD_DIR'] = BUILD_DIR
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

import test_bluez as tb  # noqa: E402

MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 256
OPS = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
ROUNDS = 5  # each figure: the round with the median ratio


def read_all(sock, total):
    """Seconds from the first byte to @total bytes."""
    buf = bytearray(1 << 20)
    got = 0
    first = None
    while got < total:
        n = sock.recv_into(buf)
        if n == 0:
            break
        if first is None:
            first = time.monotonic()
        got += n
    if got < total:
        raise AssertionError('the stream ended after %d of %d bytes' % (got, total))
    return time.monotonic() - first


class Bench(tb.BluezTestCase):
    config = ('[Service]\nEnableUdevBackend=false\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=100\n'
              'UseWallClockLimit=3600\n')

    def runTest(self):
        pass

    def prepare(self):
        self.add_band()
        self.devbgd.write_manifest('app.xml', tb.manifest_xml(
            tb.APP, self.app.path,
            [(ep, ['deviceUse'], self.bt_task) for ep in ('Bt.Stream', 'Bt.GattReads')],
            devices=tb.CAPS))
        self.devbgd.start()
        self.wait_device(tb.RFCOMM_ID)
        self.wait_device(tb.GATT_ID)

    def run_once(self, tid, device, args):
        """Runs the task; its events once it ran (earlier completions skipped)."""
        proc = subprocess.Popen([self.app.path, 'run', tid, device, args, '0'],
                                env=self.bus.env(), stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        while line.startswith('PENDING'):
            line = proc.stdout.readline()
        if not line.startswith('RESULT 0 allowed'):
            raise SystemExit('bench: request refused: ' + line)
        return proc

    def rfcomm_relay(self):
        total = MIB << 20
        tid = self.register('Bt.Stream')
        proc = self.run_once(tid, tb.RFCOMM_ID, 'mib=%d' % MIB)
        peer = self.take_peer()
        relayed = read_all(peer, total)
        proc.stdout.read()
        proc.wait(30)
        peer.close()
        a, b = socket.socketpair()
        dd = subprocess.Popen(['dd', 'if=/dev/zero', 'bs=65536', 'count=%d' % (total // 65536)],
                              stdout=a.fileno(), stderr=subprocess.DEVNULL)
        a.close()
        direct = read_all(b, total)
        dd.wait()
        b.close()
        return MIB / relayed, MIB / direct

    def gatt_ops(self):
        out = os.path.join(self.tmpdir, 'out')
        os.makedirs(out, exist_ok=True)
        os.chmod(out, 0o777)
        result = os.path.join(out, 'gatt')
        tid = self.register('Bt.GattReads')
        proc = self.run_once(tid, tb.GATT_ID, 'data=%s ops=%d path=%s'
                             % (tb.DATA_CHAR, OPS, result))
        proc.stdout.read()
        proc.wait(30)
        with open(result) as f:
            through = float(f.read())
        r = subprocess.run([self.bt_task, 'direct-gatt', self.bus.address,
                            tb.BAND_PATH + '/service0010/char0001', str(OPS)],
                           capture_output=True, text=True, check=True)
        direct = float(r.stdout)
        return OPS / through, OPS / direct


def median_pair(samples):
    """The sample whose ratio is the median: through and direct measured
    side by side stay together."""
    samples = sorted(samples, key=lambda s: s[0] / s[1])
    return samples[len(samples) // 2]


def main():
    b = Bench()
    b.setUp()
    try:
        b.prepare()
        relay, direct = median_pair([b.rfcomm_relay() for _ in range(ROUNDS)])
        print('rfcomm relay throughput %.0f MiB/s direct %.0f MiB/s ratio %.2f'
              % (relay, direct, relay / direct))
        through, direct = median_pair([b.gatt_ops() for _ in range(ROUNDS)])
        print('gatt ops %.0f/s direct %.0f/s ratio %.2f' % (through, direct, through / direct))
    finally:
        b.doCleanups()
        b.tearDown()


if __name__ == '__main__':
    main()
