# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Flatpak task benchmark (issue 13), against the real devbgd and devbg-sim
on a private bus, with a real Flatpak app built offline (a runtime of the
host libraries the helpers need, as tests/integration/test_flatpak.py does):

  flatpak request-to-running: bench-app, running inside the app's sandbox
    as nobody, sends Request; until bench-task's Bench.Latency entry point
    is entered inside a new instance of that sandbox (CLOCK_MONOTONIC,
    written by the task); against the floor: one D-Bus round trip to devbgd
    (Peer.Ping, from the same sandboxed app) plus `flatpak run
    --command=/app/bin/bench-task` of the same app, bare, as the same user
    with the same HOME (bench-spawn-floor), interleaved sample by sample.

Prints `flatpak request-to-running: skipped (why)` where Flatpak cannot run.
Usage: bench_flatpak.py BUILD_DIR [SAMPLES]
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
sys.path.insert(0, HERE)

from devbgtest import PrivateBus, DevbgSim, DEVBGCTL, manifest_xml, wait_for  # noqa: E402
from test_flatpak import FLATPAK, flatpak_unusable, host_libraries, run, NOBODY  # noqa: E402
from bench_runtime import IsolatedDevbgd, Helper, pct  # noqa: E402

SAMPLES = int(sys.argv[2]) if len(sys.argv) > 2 else 50
WARMUP = 5
APP_ID = 'org.devbg.bench.Flat'
RUNTIME = 'org.devbg.bench.Platform'
BAND = 'virtual-B0A1-0000'
CONFIG = ('[Service]\nEnableVirtualBackend=true\n'
          '[Policy]\nCpuFloorMs=0\nIoActivityWindow=100\n')
BENCH_APP = os.path.realpath(os.path.join(BUILD_DIR, 'bench', 'bench-app'))
BENCH_TASK = os.path.realpath(os.path.join(BUILD_DIR, 'bench', 'bench-task'))
SPAWN_FLOOR = os.path.realpath(os.path.join(BUILD_DIR, 'bench', 'bench-spawn-floor'))
AS_NOBODY = ['setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups']


def build_app(tmpdir, shared_dirs):
    """Exports the runtime and the app into a repository; returns its path."""
    repo = os.path.join(tmpdir, 'repo')
    env = dict(os.environ, FLATPAK_SYSTEM_DIR=os.path.join(tmpdir, 'build-installation'))
    rt = os.path.join(tmpdir, 'runtime')
    for lib in host_libraries(BENCH_APP, BENCH_TASK):
        sub = 'lib64' if lib.startswith('/lib64/') else os.path.join('lib', 'x86_64-linux-gnu')
        os.makedirs(os.path.join(rt, 'files', sub), exist_ok=True)
        shutil.copy2(lib, os.path.join(rt, 'files', sub, os.path.basename(lib)))
    with open(os.path.join(rt, 'metadata'), 'w') as f:
        f.write('[Runtime]\nname=%s\nruntime=%s/x86_64/1\nsdk=%s/x86_64/1\n'
                % (RUNTIME, RUNTIME, RUNTIME))
    run([FLATPAK, 'build-export', '--runtime', '--files=files', repo, rt, '1'], env=env)
    run([FLATPAK, 'remote-add', '--system', '--no-gpg-verify', 'build', repo], env=env)
    run([FLATPAK, 'install', '--system', '-y', '--noninteractive', 'build',
         'runtime/%s/x86_64/1' % RUNTIME], env=env)
    app = os.path.join(tmpdir, 'app')
    run([FLATPAK, 'build-init', app, APP_ID, RUNTIME, RUNTIME, '1'], env=env)
    files = os.path.join(app, 'files')
    os.makedirs(os.path.join(files, 'bin'))
    os.makedirs(os.path.join(files, 'share', 'devbg'))
    shutil.copy2(BENCH_APP, os.path.join(files, 'bin', 'bench-app'))
    shutil.copy2(BENCH_TASK, os.path.join(files, 'bin', 'bench-task'))
    with open(os.path.join(files, 'share', 'devbg', APP_ID + '.xml'), 'w') as f:
        f.write(manifest_xml(APP_ID, None, [('Bench.Latency', ['deviceUse'], '/app/bin/bench-task')]))
    run([FLATPAK, 'build-finish', '--command=bench-app']
        + ['--filesystem=' + d for d in shared_dirs] + [app], env=env)
    run([FLATPAK, 'build-export', repo, app, 'stable'], env=env)
    return repo


class FlatpakBench:
    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.stamps = os.path.join(tmpdir, 'stamps')
        os.makedirs(self.stamps)
        os.chmod(self.stamps, 0o777)
        self.bus = self.sim = self.devbgd = self.app = self.floor = None

    def start(self):
        self.bus = PrivateBus(self.tmpdir)
        repo = build_app(os.path.join(self.tmpdir, 'build'),
                         [self.stamps, os.path.dirname(self.bus.socket)])
        self.sim = DevbgSim(self.bus, self.tmpdir, ['--no-dock']).start()
        self.devbgd = IsolatedDevbgd(self.bus, self.tmpdir, CONFIG)
        system_dir = self.devbgd.flatpak_system_dir
        env = dict(os.environ, FLATPAK_SYSTEM_DIR=system_dir)
        run([FLATPAK, 'remote-add', '--system', '--no-gpg-verify', 'bench', repo], env=env)
        run([FLATPAK, 'install', '--system', '-y', '--noninteractive', 'bench',
             'runtime/%s/x86_64/1' % RUNTIME, 'app/%s/x86_64/stable' % APP_ID], env=env)
        # The task's home, as devbgd gives it to a user without one; the
        # floor uses the same.
        home = os.path.join(self.devbgd.flatpak_home_dir, str(NOBODY))
        os.makedirs(home)
        os.chmod(self.devbgd.flatpak_home_dir, 0o711)
        os.chown(home, NOBODY, NOBODY)
        os.chmod(home, 0o700)
        self.devbgd.start()
        wait_for(lambda: BAND in subprocess.run([DEVBGCTL, 'devices'], env=self.bus.env(),
                                                capture_output=True, text=True).stdout,
                 what='the band in devbgd')
        base = AS_NOBODY + ['env', '-i', 'HOME=' + home, 'PATH=/usr/bin:/bin',
                            'FLATPAK_SYSTEM_DIR=' + system_dir]
        self.app = Helper('bench-app', base + [
            FLATPAK, 'run', '--system', '--no-a11y-bus',
            '--env=DBUS_SYSTEM_BUS_ADDRESS=' + self.bus.address,
            '--command=/app/bin/bench-app', APP_ID])
        # The same command devbgd runs, bare (see devbg_flatpak_task_argv()).
        self.floor = Helper('bench-spawn-floor', base + [
            SPAWN_FLOOR, FLATPAK, 'run', '--system', '--no-a11y-bus',
            '--command=/app/bin/bench-task', APP_ID])
        self.task = self.app.ask('register', 'bench-latency', 'Bench.Latency')[0]

    def stamp(self, name):
        return os.path.join(self.stamps, name)

    def request_to_running(self):
        def one_request():
            return int(self.app.ask('latency', self.task, BAND, self.stamp('req'))[0]) / 1e6

        def one_ping():
            return int(self.app.ask('ping')[0]) / 1e6

        def one_spawn():
            return int(self.floor.ask('spawn', self.stamp('floor'))[0]) / 1e6

        for _ in range(WARMUP):
            one_request(), one_ping(), one_spawn()
        req, ping, spawn = [], [], []
        for i in range(SAMPLES):
            steps = [lambda: req.append(one_request()), lambda: ping.append(one_ping()),
                     lambda: spawn.append(one_spawn())]
            k = i % 3
            for step in steps[k:] + steps[:k]:
                step()
        floor = [p + s for p, s in zip(ping, spawn)]
        m, f = statistics.median(req), statistics.median(floor)
        print('flatpak request-to-running p50 %.2f ms p99 %.2f ms floor p50 %.2f ms ratio %.2fx'
              % (m, pct(req, 0.99), f, m / f), flush=True)

    def stop(self):
        for h in (self.app, self.floor, self.sim):
            if h is not None:
                h.stop()
        if self.devbgd is not None:
            rc = self.devbgd.stop()
            self.devbgd.remove_cgroup()
            if rc != 0:
                print('bench: devbgd exited with %d:\n%s' % (rc, self.devbgd.read_log()[-4000:]),
                      file=sys.stderr)
        if self.bus is not None:
            self.bus.stop()


def main():
    why = flatpak_unusable()
    if why is not None:
        print('flatpak request-to-running: skipped (%s)' % why, flush=True)
        return
    tmpdir = tempfile.mkdtemp(prefix='devbg-bench-flatpak-')
    os.chmod(tmpdir, 0o755)
    bench = FlatpakBench(tmpdir)
    ok = False
    try:
        bench.start()
        bench.request_to_running()
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
