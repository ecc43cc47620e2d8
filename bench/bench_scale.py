# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Scale benchmark against the real devbgd on a private bus, each figure
beside a floor measured in the same run:

  scale registrations N: Register throughput one call at a time and with
    32 in flight (each call returns only once its write is durable), then
    the full listing of the app's N registrations (every page of
    ListRegistrations) at p50, against the floor of as many D-Bus round
    trips to devbgd (Peer.Ping) as the listing took pages; devbgd's RSS
    before and after.
  scale devices N: N simulated bands; the full list through libdevbg
    (every page of ListDevices, DevbgDeviceInfo objects) at p50, against
    the floor of the same bytes in as many calls of bench-echo; the
    removal of one device among N (from the simulator's call to devbgd's
    DeviceRemoved) at p50 and p99 over distinct devices, against the
    simulator's own DeviceRemoved signal as the floor; devbgd's RSS.
  scale history N: a history of N entries of the app (seeded into devbgd's
    database between two starts: N real runs would take minutes), listed
    whole through libdevbg (every page of History, DevbgTaskInfo objects;
    on the list channel the app's client opened at its first list,
    OpenListChannel) at p50, against the floor of the same bytes in as
    many calls through the bus from bench-echo; devbgd's RSS before and
    after the listings. The '#' line: the same pages on the bus, decoded
    without the objects.
  scale permissions N: N stored use consents of the app's user for the
    app (seeded the same way), listed whole through libdevbg (every page
    of ListPermissions, DevbgPermission objects, on the list channel too)
    at p50, against the floor
    of the same bytes in as many calls of bench-echo.
  scale events N: N pending completion events of the app (seeded the same
    way), read as an app reads them at its start (WatchEvents, then
    ListEvents to the end, each event decoded by libdevbg's codec) at p50,
    against as many Peer.Ping round trips as pages.

Usage: bench_scale.py BUILD_DIR [REGISTRATIONS] [DEVICES] [HISTORY,...] [EVENTS,...]
                      [PERMISSIONS,...]
(HISTORY, EVENTS, PERMISSIONS: the sizes to list, 1000,10000 by default
(PERMISSIONS: 10000); 0 for none)
"""
import uuid
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else 'build')
os.environ['DEVBG_BUILD_DIR'] = BUILD_DIR
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))
sys.path.insert(0, HERE)

from gi.repository import Gio, GLib  # noqa: E402
from devbgtest import (PrivateBus, Devbgd, DevbgSim, insert_events, insert_history,  # noqa: E402
                       list_devices, manifest_xml)

REGISTRATIONS = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
DEVICES = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
HISTORY = [int(n) for n in (sys.argv[4] if len(sys.argv) > 4 else '1000,10000').split(',')
           if int(n) > 0]
EVENTS = [int(n) for n in (sys.argv[5] if len(sys.argv) > 5 else '1000,10000').split(',')
          if int(n) > 0]
BENCH_APP = os.path.realpath(os.path.join(BUILD_DIR, 'bench', 'bench-app'))
BENCH_TASK = os.path.realpath(os.path.join(BUILD_DIR, 'bench', 'bench-task'))
BENCH_ECHO = os.path.realpath(os.path.join(BUILD_DIR, 'bench', 'bench-echo'))
PERMISSIONS = [int(n) for n in (sys.argv[6] if len(sys.argv) > 6 else '10000').split(',')
               if int(n) > 0]
LIST_RUNS = int(os.environ.get("DEVBG_LIST_RUNS", "21"))
REMOVALS = 200


def pct(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


def rss_mib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mib_after_lists(pid):
    """devbgd's RSS once it has given back the memory of the lists: it
    keeps freed pages for the next until no large page has been answered
    for a second (HEAP_TRIM_DELAY_MS, src/daemon/devbg-daemon.c)."""
    time.sleep(1.5)
    return rss_mib(pid)


class Helper:
    def __init__(self, cmd, env):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        if self.proc.stdout.readline().strip() != 'READY':
            raise SystemExit('bench: %s did not start' % cmd[0])

    def ask(self, *words):
        self.proc.stdin.write(' '.join(str(w) for w in words) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        if not line.startswith('OK'):
            raise SystemExit('bench: %s: %s' % (words[0], line or 'no answer'))
        return line.split()[1:]

    def stop(self):
        self.proc.stdin.write('quit\n')
        self.proc.stdin.close()
        self.proc.wait(10)


def registrations(tmpdir):
    os.makedirs(tmpdir)
    os.chmod(tmpdir, 0o755)
    bus = PrivateBus(tmpdir)
    # As installed: no --verbose (debug messages are a diagnosis mode).
    devbgd = Devbgd(bus, tmpdir, '[Service]\nMaxRegistrationsPerApp=%d\n' % (REGISTRATIONS * 2),
                    verbose=False)
    devbgd.write_manifest('bench.xml', manifest_xml(
        'org.devbg.bench.Scale', BENCH_APP, [('Bench.Latency', ['deviceUse'], BENCH_TASK)]))
    devbgd.start()
    app = Helper([BENCH_APP], bus.env())
    echo = Echo(bus)
    try:
        pid = devbgd.proc.pid
        half = REGISTRATIONS // 2
        ns, errors = map(int, app.ask('register-many', half, 'Bench.Latency', 1))
        serial = half / (ns / 1e9)
        ns, errors2 = map(int, app.ask('register-many', REGISTRATIONS - half, 'Bench.Latency', 32))
        concurrent = (REGISTRATIONS - half) / (ns / 1e9)
        if errors or errors2:
            raise SystemExit('bench: %d registrations failed' % (errors + errors2))
        before = rss_mib(pid)
        lists, floors = [], []
        pages = kib = 0
        for _ in range(LIST_RUNS):
            ns, count, pages, size = map(int, app.ask('list-all'))
            if count != REGISTRATIONS:
                raise SystemExit('bench: listed %d of %d' % (count, REGISTRATIONS))
            kib = size / 1024
            lists.append(ns / 1e6)
            floors.append(echo_floor(app, pages, size))
        after = rss_mib_after_lists(pid)
        print('scale registrations %d list p50 %.1f ms (%d pages, %.0f KiB; floor: the same '
              'bytes through the bus %.1f ms, ratio %.2fx) register %.0f/s serial %.0f/s '
              '32-in-flight memory %.1f MiB after-lists %.1f MiB'
              % (REGISTRATIONS, pct(lists, 0.5), pages, kib, pct(floors, 0.5),
                 pct(lists, 0.5) / pct(floors, 0.5), serial, concurrent, before, after),
              flush=True)
    finally:
        app.stop()
        echo.stop()
        devbgd.stop()
        bus.stop()


def seeded_devbgd(tmpdir, config, seed):
    """A private bus and devbgd knowing the bench app, whose database @seed
    fills (given its path) between a first start, which makes the schema,
    and the start it runs on: (bus, devbgd, bench app, bench-echo)."""
    os.makedirs(tmpdir)
    os.chmod(tmpdir, 0o755)
    bus = PrivateBus(tmpdir)
    devbgd = Devbgd(bus, tmpdir, config, verbose=False)
    devbgd.write_manifest('bench.xml', manifest_xml(
        'org.devbg.bench.Scale', BENCH_APP, [('Bench.Latency', ['deviceUse'], BENCH_TASK)]))
    devbgd.start()
    devbgd.stop()
    seed(os.path.join(devbgd.state_dir, 'devbg.db'))
    devbgd.start()
    return bus, devbgd, Helper([BENCH_APP], bus.env()), Echo(bus)


def echo_floor(app, pages, size):
    """The floor of a list of @size bytes in @pages pages: the same bytes in
    as many calls of bench-echo (a service that only answers a page of the
    size asked) on the same bus, in ms."""
    sizes = [size // pages + (1 if i < size % pages else 0) for i in range(pages)]
    return int(app.ask('echo', *sizes)[0]) / 1e6


class Echo:
    """bench-echo on @bus, for echo_floor()."""

    def __init__(self, bus):
        self.proc = subprocess.Popen([BENCH_ECHO], stdout=subprocess.PIPE, text=True,
                                     env=bus.env())
        if self.proc.stdout.readline().strip() != 'READY':
            raise SystemExit('bench: bench-echo did not start')

    def stop(self):
        self.proc.kill()
        self.proc.wait(10)


def seed_history(db_path, n, app_id):
    """N finished instances of @app_id for this user, oldest first, one in
    ten failed: rows as devbgd writes them (src/daemon/devbg-store.c)."""
    now = int(time.time() * 1e6)
    task = str(uuid.uuid4())
    rows = []
    for i in range(n):
        ok = i % 10 != 0
        finished = now - (n - i) * 1000000
        rows.append((str(uuid.uuid4()), task, app_id, 'Bench.Latency', 'Bench.Latency', 'use',
                     'sim:band:S%05d' % (i % 100), os.getuid(), finished - 500000, finished,
                     ok, '' if ok else 'the device went away',
                     '' if ok else 'condition-loss'))
    insert_history(db_path, rows)


def history(tmpdir, n):
    # [Service] HistoryMaxPerApp: none of the seeded entries is pruned.
    bus, devbgd, app, echo = seeded_devbgd(
        tmpdir, '[Service]\nHistoryMaxPerApp=%d\n' % max(1000, n),
        lambda db: seed_history(db, n, 'org.devbg.bench.Scale'))
    try:
        pid = devbgd.proc.pid
        before = rss_mib(pid)
        lists, raws, frees, floors = [], [], [], []
        pages = kib = 0
        for _ in range(LIST_RUNS):
            ns, count, pages, size, raw_ns, free_ns = map(int, app.ask('history-all'))
            if count != n:
                raise SystemExit('bench: listed %d of %d history entries' % (count, n))
            kib = size / 1024
            lists.append(ns / 1e6)
            raws.append(raw_ns / 1e6)
            frees.append(free_ns / 1e6)
            floors.append(echo_floor(app, pages, size))
        after = rss_mib_after_lists(pid)
        print('scale history %d list p50 %.1f ms (%d pages, %.0f KiB; floor: the same bytes '
              'through the bus %.1f ms, ratio %.2fx) memory %.1f MiB after-lists %.1f MiB'
              % (n, pct(lists, 0.5), pages, kib, pct(floors, 0.5),
                 pct(lists, 0.5) / pct(floors, 0.5), before, after), flush=True)
        print('# history %d on the bus without the DevbgTaskInfo objects (pages decoded and checked): '
              'p50 %.1f ms; freeing the objects after the list: p50 %.1f ms'
              % (n, pct(raws, 0.5), pct(frees, 0.5)), flush=True)
    finally:
        app.stop()
        echo.stop()
        devbgd.stop()
        bus.stop()


def time_list(app, name, n, command, what):
    """Times @app's @command (a whole list of @n @what, answering
    "OK <ns> <count> <pages> <bytes>") LIST_RUNS times, each beside its
    floor, and prints the "scale @name" line."""
    lists, floors = [], []
    pages = size = 0
    for _ in range(LIST_RUNS):
        ns, count, pages, size = map(int, app.ask(command))
        if count != n:
            raise SystemExit('bench: listed %d of %d %s' % (count, n, what))
        lists.append(ns / 1e6)
        floors.append(echo_floor(app, pages, size))
    print('scale %s %d list p50 %.1f ms (%d pages, %.0f KiB; floor: the same bytes '
          'through the bus %.1f ms, ratio %.2fx)'
          % (name, n, pct(lists, 0.5), pages, size / 1024, pct(floors, 0.5),
             pct(lists, 0.5) / pct(floors, 0.5)), flush=True)


def seed_events(db_path, n, app_id):
    """N pending completion events of @app_id for this user, oldest first,
    one in ten failed: rows as devbgd writes them."""
    now = int(time.time() * 1e6)
    task = str(uuid.uuid4())
    rows = []
    for i in range(n):
        ok = i % 10 != 0
        rows.append((os.getuid(), app_id,
                     (str(uuid.uuid4()), task, str(uuid.uuid4()), ok,
                      '' if ok else 'the device went away', '' if ok else 'condition-loss',
                      now - (n - i) * 1000000)))
    insert_events(db_path, rows)


def events(tmpdir, n):
    # [Service] MaxPendingEvents: none of the seeded events is dropped.
    bus, devbgd, app, echo = seeded_devbgd(
        tmpdir, '[Service]\nMaxPendingEvents=%d\n' % max(1000, n),
        lambda db: seed_events(db, n, 'org.devbg.bench.Scale'))
    try:
        time_list(app, 'events', n, 'events-all', 'pending events')
    finally:
        app.stop()
        echo.stop()
        devbgd.stop()
        bus.stop()


def seed_permissions(db_path, n, app_id):
    """N stored use consents of this user for @app_id, one a device model,
    oldest first: rows as devbgd writes them (src/daemon/devbg-store.c)."""
    import sqlite3
    now = int(time.time() * 1e6)
    db = sqlite3.connect(db_path)
    db.executemany('INSERT INTO consent (uid, app_id, model_id, created_us) VALUES (?, ?, ?, ?)',
                   [(os.getuid(), app_id, 'vidpid:1209 %04X' % i, now - (n - i) * 1000000)
                    for i in range(n)])
    db.commit()
    db.close()


def permissions(tmpdir, n):
    bus, devbgd, app, echo = seeded_devbgd(
        tmpdir, '', lambda db: seed_permissions(db, n, 'org.devbg.bench.Scale'))
    try:
        time_list(app, 'permissions', n, 'permissions-all', 'stored consents')
    finally:
        app.stop()
        echo.stop()
        devbgd.stop()
        bus.stop()


class DeviceBench:
    def __init__(self, tmpdir):
        os.makedirs(tmpdir)
        os.chmod(tmpdir, 0o755)
        self.bus = PrivateBus(tmpdir)
        self.devbgd = Devbgd(self.bus, tmpdir, '[Service]\nEnableVirtualBackend=true\n',
                             verbose=False)
        # The list is timed as an app gets it (bench-app, through libdevbg),
        # the app declaring the simulated bands.
        self.devbgd.write_manifest('bench.xml', manifest_xml(
            'org.devbg.bench.Scale', BENCH_APP, [('Bench.Latency', ['deviceUse'], BENCH_TASK)]))
        self.devbgd.start()
        self.app = self.echo = None
        self.sim = DevbgSim(self.bus, tmpdir, ['--no-dock', '--no-band']).start()
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.seen = {}
        for sender, iface in (('org.devbg.Sim1', 'org.devbg.Sim1'),
                              ('org.devbg.Devbg1', 'org.devbg.Devbg1.Devices')):
            self.conn.signal_subscribe(sender, iface, None, None, None,
                                       Gio.DBusSignalFlags.NONE, self.on_signal, iface)

    def on_signal(self, conn, sender, path, iface, signal, params, which):
        self.seen[(which, signal)] = time.perf_counter()

    def iterate(self, pred, what, timeout=60):
        ctx = GLib.MainContext.default()
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise SystemExit('bench: timed out waiting for ' + what)
            ctx.iteration(True)

    def drain(self):
        """Dispatches every signal already queued here: a backlog (the
        DeviceAdded of all N devices) must not land in the first sample."""
        ctx = GLib.MainContext.default()
        while ctx.iteration(False):
            pass

    def call(self, dest, iface, method, args=None):
        path = '/org/devbg/Sim1' if dest == 'org.devbg.Sim1' else '/org/devbg/Devbg1'
        return self.conn.call_sync(dest, path, iface, method, args, None,
                                   Gio.DBusCallFlags.NONE, 30000, None)

    def list_devices(self):
        return list_devices(self.conn, timeout_ms=30000)

    def run(self):
        ids = []
        for i in range(DEVICES):
            ids.append(self.call('org.devbg.Sim1', 'org.devbg.Sim1', 'AddDevice', GLib.Variant(
                '(sa{sv})', ('band', {'serial': GLib.Variant('s', 'S%05d' % i)}))).unpack()[0])
        self.iterate(lambda: len(self.list_devices()) >= DEVICES, 'all devices in devbgd')
        pid = self.devbgd.proc.pid
        memory = rss_mib(pid)
        self.app = Helper([BENCH_APP], self.bus.env())
        self.echo = Echo(self.bus)
        lists, raws, floors = [], [], []
        pages = size = 0
        for _ in range(LIST_RUNS):
            ns, count, pages, size, raw_ns = map(int, self.app.ask('devices-all'))
            if count != DEVICES:
                raise SystemExit('bench: listed %d of %d devices' % (count, DEVICES))
            lists.append(ns / 1e6)
            raws.append(raw_ns / 1e6)
            floors.append(echo_floor(self.app, pages, size))
        removal, floor = [], []
        for dev in ids[:REMOVALS]:
            self.drain()
            self.seen.clear()
            t0 = time.perf_counter()
            self.call('org.devbg.Sim1', 'org.devbg.Sim1', 'Detach', GLib.Variant('(s)', (dev,)))
            self.iterate(lambda: ('org.devbg.Devbg1.Devices', 'DeviceRemoved') in self.seen,
                         'DeviceRemoved')
            removal.append((self.seen[('org.devbg.Devbg1.Devices', 'DeviceRemoved')] - t0) * 1000)
            floor.append((self.seen[('org.devbg.Sim1', 'DeviceRemoved')] - t0) * 1000)
        print('scale devices %d list p50 %.1f ms (%d pages, %.0f KiB; floor: the same bytes '
              'through the bus %.1f ms, ratio %.2fx) removal p50 %.2f ms p99 %.2f ms max %.2f ms '
              '(floor: the simulator\'s own signal p50 %.2f ms p99 %.2f ms) memory %.1f MiB'
              % (DEVICES, pct(lists, 0.5), pages, size / 1024, pct(floors, 0.5),
                 pct(lists, 0.5) / pct(floors, 0.5), pct(removal, 0.5), pct(removal, 0.99),
                 max(removal), pct(floor, 0.5), pct(floor, 0.99), memory), flush=True)
        print('# devices %d: the same pages undecoded (devbgd and the bus only): p50 %.1f ms'
              % (DEVICES, pct(raws, 0.5)), flush=True)

    def stop(self):
        for helper in (self.app, self.echo):
            if helper is not None:
                helper.stop()
        self.sim.stop()
        self.devbgd.stop()
        self.bus.stop()


def main():
    for exe in (BENCH_APP, BENCH_TASK):
        if not os.access(exe, os.X_OK):
            raise SystemExit('bench: %s is not built' % exe)
    tmpdir = tempfile.mkdtemp(prefix='devbg-bench-')
    os.chmod(tmpdir, 0o755)
    try:
        if REGISTRATIONS > 0:
            registrations(os.path.join(tmpdir, 'r'))
        for n in HISTORY:
            history(os.path.join(tmpdir, 'h%d' % n), n)
        for n in EVENTS:
            events(os.path.join(tmpdir, 'e%d' % n), n)
        for n in PERMISSIONS:
            permissions(os.path.join(tmpdir, 'p%d' % n), n)
        if DEVICES == 0:
            return
        bench = DeviceBench(os.path.join(tmpdir, 'd'))
        try:
            bench.run()
        finally:
            bench.stop()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == '__main__':
    main()
