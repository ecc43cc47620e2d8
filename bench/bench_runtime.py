# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Task runtime benchmark, side by side in one run, against the real devbgd
and devbg-sim on a private bus (see bench/README.md):

  request-to-running: from just before the app sends Request to the task's
    entry point being entered (CLOCK_MONOTONIC, written by the task), one
    request at a time, each completed before the next; against the floor:
    one D-Bus round trip to devbgd (org.freedesktop.DBus.Peer.Ping) plus one
    bare posix_spawn of the same task executable to the same entry point
    (bench-spawn-floor), the three interleaved sample by sample;
  progress events: a task reporting progress as fast as it can; reports per
    second from its entry point to its Completed signal reaching the app,
    checking that the app's last Progress value is the final one and that
    every request got exactly one Completed signal.

The helpers are C: bench-app (raw GDBus), bench-task (libdevbg's task side),
bench-spawn-floor. Timings are printed, never asserted; wrong results (a
lost completion, a wrong last progress value) are printed in the line.

Usage: bench_runtime.py BUILD_DIR [SAMPLES [PROGRESS_REQUESTS [REPORTS]]]
With DEVBG_BENCH_VERBOSE=1, also the floor's parts and GetStatus.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else 'build')
os.environ['DEVBG_BUILD_DIR'] = BUILD_DIR
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

from devbgtest import PrivateBus, Devbgd, DevbgSim, DEVBGCTL, manifest_xml, wait_for  # noqa: E402

SAMPLES = int(sys.argv[2]) if len(sys.argv) > 2 else 200
PROGRESS_REQUESTS = int(sys.argv[3]) if len(sys.argv) > 3 else 20
REPORTS = int(sys.argv[4]) if len(sys.argv) > 4 else 200000
WARMUP = 20
VERBOSE = os.environ.get('DEVBG_BENCH_VERBOSE') == '1'

BENCH_APP = os.path.realpath(os.path.join(BUILD_DIR, 'bench', 'bench-app'))
BENCH_TASK = os.path.realpath(os.path.join(BUILD_DIR, 'bench', 'bench-task'))
SPAWN_FLOOR = os.path.realpath(os.path.join(BUILD_DIR, 'bench', 'bench-spawn-floor'))
APP_ID = 'org.devbg.bench.App'
BAND = 'virtual-B0A1-0000'
CONFIG = ('[Service]\nEnableVirtualBackend=true\n'
          '[Policy]\nCpuFloorMs=0\nIoActivityWindow=100\n')


# devbgd puts each task in <cgroup v2 root>/devbg/instance-<id> by default
# and, when it starts, kills every instance-* there that its own database
# does not know. On a machine where other devbgd instances start meanwhile
# (other test runs), that parent is shared and they kill our tasks (and we
# theirs). devbgtest.Devbgd gives each devbgd its own parent
# ([Service] TaskCgroupParent) where it can; with an older devbgtest that
# does not, our devbgd gets a cgroup namespace rooted at a cgroup of its own,
# with the v2 hierarchy mounted again in a private mount namespace, so that
# it sees, uses and sweeps only <root>/devbg-bench-<pid>/devbg. Either way
# the spawn path stays the real one (a cgroup made and joined per task).
ISOLATE_SH = r"""#!/bin/sh
cg=$1; mnt=$2; shift 2
echo $$ > "$cg/cgroup.procs" || exit 1
exec unshare --mount --cgroup --propagation private -- \
  sh -c 'm=$1; shift; umount -l "$m" && mount -t cgroup2 cgroup2 "$m" && exec "$@"' sh "$mnt" "$@"
"""


def cgroup2_mount():
    with open('/proc/self/mounts') as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == 'cgroup2':
                return fields[1].replace('\\040', ' ')
    return None


class IsolatedDevbgd(Devbgd):
    """devbgd in its own cgroup subtree (see ISOLATE_SH), when it can be."""

    def __init__(self, bus, tmpdir, config):
        # As installed: no --verbose (debug messages are a diagnosis mode).
        super().__init__(bus, tmpdir, config, verbose=False)
        self.cgroup = self.mount = None
        if hasattr(self, 'remove_cgroups'):
            return  # devbgtest keeps our task cgroups apart already
        mount = cgroup2_mount()
        if mount is None or not shutil.which('unshare') or not os.access(mount, os.W_OK):
            print('bench: no writable cgroup v2 hierarchy: devbgd runs unisolated',
                  file=sys.stderr)
            return
        self.mount = mount
        self.cgroup = os.path.join(mount, 'devbg-bench-%d' % os.getpid())
        os.mkdir(self.cgroup)
        self.script = os.path.join(tmpdir, 'isolate.sh')
        with open(self.script, 'w') as f:
            f.write(ISOLATE_SH)

    def args(self):
        if self.cgroup is None:
            return super().args()
        return ['sh', self.script, self.cgroup, self.mount] + super().args()

    def remove_cgroup(self):
        if hasattr(self, 'remove_cgroups'):
            self.remove_cgroups()
        if self.cgroup is None:
            return
        for d, _, _ in sorted(os.walk(self.cgroup), key=lambda w: -len(w[0])):
            try:
                with open(os.path.join(d, 'cgroup.kill'), 'w') as f:
                    f.write('1')
            except OSError:
                pass
            try:
                os.rmdir(d)
            except OSError as e:
                print('bench: cannot remove %s: %s' % (d, e), file=sys.stderr)


class Helper:
    """A C helper that takes one command a line and answers one line."""

    def __init__(self, name, cmd, env=None):
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        ready = self.proc.stdout.readline().strip()
        if ready != 'READY':
            raise SystemExit('bench: %s did not start (%r)' % (name, ready))

    def ask(self, *words):
        self.proc.stdin.write(' '.join(str(w) for w in words) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        if not line.startswith('OK'):
            raise RuntimeError('%s %s: %s' % (self.name, words[0], line or 'no answer'))
        return line.split()[1:]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('quit\n')
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def pct(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


class Bench:
    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.stamps = os.path.join(tmpdir, 'stamps')
        os.makedirs(self.stamps)
        # The bench runs as root, so devbgd runs its tasks as nobody
        # (TaskUserForRoot): they must be able to write their stamps.
        os.chmod(self.stamps, 0o777)
        self.bus = self.sim = self.devbgd = self.app = self.floor = None

    def start(self):
        tmpdir = self.tmpdir
        self.bus = PrivateBus(tmpdir)
        self.sim = DevbgSim(self.bus, tmpdir, ['--no-dock']).start()
        self.devbgd = IsolatedDevbgd(self.bus, tmpdir, CONFIG)
        # The app is known by its executable; the task executable hosts both
        # entry points.
        self.devbgd.write_manifest('bench.xml', manifest_xml(
            APP_ID, BENCH_APP, [('Bench.Latency', ['deviceUse'], BENCH_TASK),
                                ('Bench.Progress', ['deviceUse'], BENCH_TASK)]))
        self.devbgd.start()
        wait_for(lambda: BAND in subprocess.run([DEVBGCTL, 'devices'], env=self.bus.env(),
                                                capture_output=True, text=True).stdout,
                 what='the band in devbgd')
        self.app = Helper('bench-app', [BENCH_APP], env=self.bus.env())
        self.floor = Helper('bench-spawn-floor', [SPAWN_FLOOR, BENCH_TASK])
        self.latency_task = self.app.ask('register', 'bench-latency', 'Bench.Latency')[0]
        self.progress_task = self.app.ask('register', 'bench-progress', 'Bench.Progress')[0]

    def stamp(self, name):
        return os.path.join(self.stamps, name)

    # ---- request-to-running ----

    def one_request(self):
        return int(self.app.ask('latency', self.latency_task, BAND, self.stamp('req'))[0]) / 1e6

    def one_ping(self):
        return int(self.app.ask('ping')[0]) / 1e6

    def one_spawn(self):
        return int(self.floor.ask('spawn', self.stamp('floor'))[0]) / 1e6

    def request_to_running(self):
        for _ in range(WARMUP):
            self.one_request(), self.one_ping(), self.one_spawn()
        req, ping, spawn, status = [], [], [], []
        for i in range(SAMPLES):
            # A different order each time, so that none of the three always
            # runs right after the same other one.
            steps = [lambda: req.append(self.one_request()),
                     lambda: ping.append(self.one_ping()),
                     lambda: spawn.append(self.one_spawn())]
            k = i % 3
            for step in steps[k:] + steps[:k]:
                step()
            if VERBOSE:
                status.append(int(self.app.ask('status')[0]) / 1e6)
        floor = [p + s for p, s in zip(ping, spawn)]
        m, f = statistics.median(req), statistics.median(floor)
        print('request-to-running p50 %.2f ms p99 %.2f ms floor p50 %.2f ms ratio %.2fx'
              % (m, pct(req, 0.99), f, m / f), flush=True)
        if VERBOSE:
            print('  (%d samples; floor parts: Peer.Ping p50 %.3f ms p99 %.3f ms, bare spawn '
                  'p50 %.3f ms p99 %.3f ms; floor p99 %.2f ms; GetStatus p50 %.3f ms)'
                  % (len(req), statistics.median(ping), pct(ping, 0.99),
                     statistics.median(spawn), pct(spawn, 0.99), pct(floor, 0.99),
                     statistics.median(status)), flush=True)

    # ---- progress ----

    def progress(self):
        rates, wrong_last, signals = [], 0, []
        self.app.ask('tally', 0)  # a new tally: only these requests count
        for _ in range(PROGRESS_REQUESTS):
            try:
                ns, last, n = self.app.ask('progress', self.progress_task, BAND,
                                           self.stamp('progress'), REPORTS)
            except RuntimeError as e:
                # A lost completion shows in the tally below; go on.
                print('bench: %s' % e, file=sys.stderr, flush=True)
                continue
            rates.append(REPORTS / (int(ns) / 1e9))
            signals.append(int(n))
            wrong_last += int(last) != REPORTS % 101  # bench-task's last report
        instances, completed, extra = (int(x) for x in self.app.ask('tally', 500))
        lost = PROGRESS_REQUESTS - completed
        line = 'progress events %.0f/s lost-completions %d' % (
            statistics.median(rates) if rates else 0, lost)
        if extra:
            line += ' duplicate-completions %d' % extra
        if wrong_last:
            line += ' wrong-last-progress %d' % wrong_last
        print(line, flush=True)
        if VERBOSE and rates:
            print('  (%d requests of %d reports: rate min %.0f/s max %.0f/s; Progress signals '
                  'per request p50 %d; %d instances seen)'
                  % (PROGRESS_REQUESTS, REPORTS, min(rates), max(rates),
                     statistics.median(signals), instances), flush=True)

    def stop(self):
        for h in (self.app, self.floor, self.sim):
            if h is not None:
                h.stop()
        rc = 0
        if self.devbgd is not None:
            rc = self.devbgd.stop()
            self.devbgd.remove_cgroup()
        if self.bus is not None:
            self.bus.stop()
        if rc != 0:
            print('bench: devbgd exited with %d:\n%s' % (rc, self.devbgd.read_log()[-4000:]),
                  file=sys.stderr)


def main():
    for exe in (BENCH_APP, BENCH_TASK, SPAWN_FLOOR):
        if not os.access(exe, os.X_OK):
            raise SystemExit('bench: %s is not built' % exe)
    tmpdir = tempfile.mkdtemp(prefix='devbg-bench-')
    os.chmod(tmpdir, 0o755)
    bench = Bench(tmpdir)
    ok = False
    try:
        bench.start()
        bench.request_to_running()
        bench.progress()
        ok = True
    except (RuntimeError, AssertionError) as e:
        print('bench: %s' % e, file=sys.stderr)
        if bench.devbgd is not None:
            print(bench.devbgd.read_log()[-4000:], file=sys.stderr)
    finally:
        bench.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
