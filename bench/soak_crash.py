# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Crash-safety soak (DESIGN.md section 9: "kill -9 at random points over
1,000 task lifecycles: every request gets exactly one completion, no orphan
task process"), against the real devbgd and devbg-sim on a private bus.

Several test apps (copies of tests/helpers/devbg-test-client, one task at a
time each) request short tasks of the test task (tests/helpers/
devbg-test-task.c) in parallel: Test.Progress with a random count and
interval (some detached, some whose app exits right after the start or is
killed mid-task), Test.Fail, Test.Exit, and Test.IgnoreCancel (its forked
child outlives the task's own end unless devbgd kills the tree: the orphan
probe). Meanwhile devbgd is SIGKILLed and restarted at random points: after
a random number of requests, at a random delay, right after an app was
started (its WatchEvents / Request in flight), while tasks report their last
progress (about to complete), and sometimes again during its own start-up
(while it ends the tasks the previous one left).

Checked at the end, with devbgd up and every task ended:
  - every instance whose Request answered "0 allowed" has exactly one
    completion event: event IDs seen as COMPLETED signals by the apps, or as
    PENDING at WatchEvents (a later `run`, or the final `watch ... ack` of
    each app), deduplicated by event ID (a completion seen but not
    acknowledged is delivered again, with the same ID); distinct event IDs
    per instance must be 1 (0: lost, more: duplicated);
  - no orphan: no task process of a killed devbgd still alive once the next
    one has started (checked after every restart, by pid and start time),
    and at the end no process runs the test task and no cgroup under the
    task cgroup parent is populated.
Requests that were refused (e.g. already-running, no-such-device while the
new devbgd has not seen the band yet) or got no answer (devbgd died mid-call,
or was not on the bus) are counted, not checked: the app got no "allowed".

Usage: soak_crash.py BUILD_DIR [LIFECYCLES]   (default 1000)
Prints
  crash-soak lifecycles N kills K allowed A completions-ok C lost L duplicated D orphans O
and a details line; exits 1 if lost, duplicated or orphans is non-zero.
The integration test tests/integration/test_crash.py runs the same soak,
shorter (run_soak()).
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if __name__ == '__main__':
    os.environ['DEVBG_BUILD_DIR'] = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else 'build')
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

from devbgtest import (PrivateBus, Devbgd, DevbgSim, TestApp, manifest_xml, wait_for,  # noqa: E402
                       BUILD_DIR, DEVBGCTL)

TEST_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-test-task')
BAND = 'virtual-B0A1-0000'
CONFIG = ('[Service]\nEnableVirtualBackend=true\n'
          '[Policy]\nCpuFloorMs=0\nIoActivityWindow=100\nCancelGracePeriod=0.5\n')
ENTRY_POINTS = ['Test.Progress', 'Test.Fail', 'Test.Exit', 'Test.IgnoreCancel']
RUN_TIMEOUT = 30.0   # a run whose devbgd stayed up this long is stuck: killed, noted


def proc_start_time(pid):
    """The start time of @pid (clock ticks since boot), or None if gone or a zombie."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ('Z', 'X'):
        return None
    return int(fields[19])


def processes_of(exe):
    """{pid: start time} of the live processes whose executable is @exe."""
    out = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            if os.readlink('/proc/%s/exe' % d) != exe:
                continue
        except OSError:
            continue
        start = proc_start_time(int(d))
        if start is not None:
            out[int(d)] = start
    return out


def populated_cgroups(parent):
    """The cgroups under @parent that still hold a process."""
    out = []
    if parent is None or not os.path.isdir(parent):
        return out
    for root, dirs, _ in os.walk(parent):
        for d in dirs:
            try:
                with open(os.path.join(root, d, 'cgroup.events')) as f:
                    if 'populated 1' in f.read():
                        out.append(os.path.join(root, d))
            except OSError:
                pass
    return out


def parse_events(lines):
    """(event ID, instance ID, kind) of every completion in a test client's
    output: PENDING <event> <task> <instance> <0|1> <reason> <error> and
    COMPLETED <event> <instance> <0|1> <reason> <error>."""
    out = []
    for line in lines:
        w = line.split(' ', 6)
        if len(w) >= 6 and w[0] == 'PENDING':
            out.append((w[1], w[3], completion_kind(w[4:])))
        elif len(w) >= 5 and w[0] == 'COMPLETED':
            out.append((w[1], w[2], completion_kind(w[3:])))
    return out


def completion_kind(fields):
    """success, failed, canceled-<reason>, or ended-at-restart (by the next devbgd)."""
    success, reason, error = (fields + ['', '', ''])[:3]
    if 'devbgd stopped while the task ran' in error:
        return 'ended-at-restart'
    if success == '1':
        return 'success'
    return 'canceled-' + reason if reason != '-' else 'failed'


class Soak:
    def __init__(self, tmpdir, lifecycles, apps=6, seed=None, log=None):
        self.tmpdir = tmpdir
        self.lifecycles = lifecycles
        self.napps = apps
        self.rng = random.Random(seed)
        self.log = log or (lambda msg: None)
        self.lock = threading.Lock()
        self.issued = 0
        self.generation = 0
        self.procs = {}           # Popen -> (generation, start monotonic)
        self.spawned = threading.Event()
        self.completing = threading.Event()
        self.stop_flag = False
        # Results.
        self.allowed = {}         # instance ID -> app name
        self.events = {}          # event ID -> instance ID
        self.event_conflicts = []  # one event ID given for two instances
        self.refused = {}         # reason -> count
        self.no_answer = {}       # why -> count
        self.kinds = {}           # event ID -> how the instance ended
        self.leftovers = 0        # task processes a killed devbgd left, ended by the next
        self.kills = 0
        self.kill_modes = {}
        self.orphans = {}         # pid -> what
        self.stuck = 0
        self.bus = self.sim = self.devbgd = None

    # ---- setup ----

    def start(self):
        self.bus = PrivateBus(self.tmpdir)
        self.sim = DevbgSim(self.bus, self.tmpdir, ['--no-dock']).start()
        self.devbgd = Devbgd(self.bus, self.tmpdir, CONFIG)
        tasks = os.path.join(self.tmpdir, 'tasks')
        os.makedirs(tasks)
        os.chmod(tasks, 0o755)
        # Our own copy: only our tasks run it (the orphan scan looks for it).
        self.task_exe = os.path.join(tasks, 'devbg-test-task')
        shutil.copy2(TEST_TASK, self.task_exe)
        self.apps = []
        for i in range(self.napps):
            app = TestApp(self.tmpdir, 'soak-app-%d' % i)
            app.name = 'app%d' % i
            self.devbgd.write_manifest('soak%d.xml' % i, manifest_xml(
                'org.devbg.soak.App%d' % i, app.path,
                [(ep, ['deviceUse'], self.task_exe) for ep in ENTRY_POINTS]))
            self.apps.append(app)
        self.devbgd.start()
        self.wait_band()
        # A device runs one task at a time (device-busy): each app but the
        # first gets a band of its own, so the soak exercises lifecycles
        # rather than refusals.
        self.apps[0].device = BAND
        for i, app in enumerate(self.apps[1:], 1):
            self.sim.ctl('add', 'band', 'id=soak%d' % i, 'serial=SOAK%d' % i)
            app.device = 'virtual-SOAK%d' % i
            wait_for(lambda: app.device in self.devbgctl('devices'), timeout=10,
                     what='band %d in devbgd' % i)
        for app in self.apps:
            app.tids = {ep: app.ok(self.bus, 'register', ep.lower(), ep, 'use')[0].split()[1]
                        for ep in ENTRY_POINTS}

    def wait_band(self):
        wait_for(lambda: BAND in self.devbgctl('devices'), timeout=10, what='the band in devbgd')

    def devbgctl(self, *args):
        r = subprocess.run([DEVBGCTL] + list(args), env=self.bus.env(), capture_output=True,
                           text=True, timeout=30)
        return r.stdout if r.returncode == 0 else ''

    def running_tasks(self):
        try:
            return json.loads(self.devbgctl('--json', 'tasks'))
        except ValueError:
            return None

    def stop(self):
        rc = 0
        if self.devbgd is not None:
            if self.devbgd.proc is not None:
                rc = self.devbgd.stop()
            self.devbgd.remove_cgroups()
        if self.sim is not None:
            self.sim.stop()
        if self.bus is not None:
            self.bus.stop()
        return rc

    # ---- the apps ----

    def take_lifecycle(self):
        with self.lock:
            if self.stop_flag or self.issued >= self.lifecycles:
                return False
            self.issued += 1
            return True

    def plan(self, rng):
        """One lifecycle: (entry point, arguments, flags, kill the app after s or None,
        the count of progress reports, rough seconds the task runs)."""
        r = rng.random()
        if r < 0.08:
            # The orphan probe: its child sleeps on; the app leaving cancels
            # it, and after the grace period devbgd kills the tree.
            return 'Test.IgnoreCancel', '', ['exit-after-start'], None, 0, 0.6
        if r < 0.14:
            return 'Test.Fail', 'message=boom', ['ack'] if rng.random() < 0.5 else [], None, 0, 0
        if r < 0.19:
            return 'Test.Exit', 'status=3', ['ack'] if rng.random() < 0.5 else [], None, 0, 0
        count, interval = rng.randint(1, 8), rng.randint(1, 25)
        args = 'count=%d interval_ms=%d' % (count, interval)
        length = count * interval / 1000.0
        flags = ['ack'] if rng.random() < 0.7 else []
        crash_after = None
        s = rng.random()
        if s < 0.12:
            flags += ['detach'] + (['exit-after-start'] if rng.random() < 0.6 else [])
        elif s < 0.22:
            flags += ['exit-after-start']
        elif s < 0.30:
            crash_after = rng.uniform(0, length + 0.02)   # the app is killed mid-task
        return 'Test.Progress', args, flags, crash_after, count, length

    def worker(self, app, seed):
        rng = random.Random(seed)
        while self.take_lifecycle():
            ep, args, flags, crash_after, count, length = self.plan(rng)
            cmd = [app.path, 'run', app.tids[ep], app.device, args, '0'] + flags
            proc = subprocess.Popen(cmd, env=self.bus.env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
            with self.lock:
                self.procs[proc] = (self.generation, time.monotonic())
            self.spawned.set()
            timer = None
            if crash_after is not None:
                timer = threading.Timer(crash_after, lambda p=proc: p.poll() is None and p.kill())
                timer.start()
            lines = []
            for line in proc.stdout:
                lines.append(line.rstrip('\n'))
                w = line.split()
                if count and len(w) == 3 and w[0] == 'PROGRESS' and int(w[2]) >= count - 1:
                    self.completing.set()
            proc.wait()
            if timer is not None:
                timer.cancel()
            with self.lock:
                del self.procs[proc]
            answered = self.record(app, lines)
            if not answered:
                time.sleep(rng.uniform(0.02, 0.1))   # no devbgd: the app tries again later
            if 'exit-after-start' in flags or crash_after is not None:
                # Its task may still run: give it the time to end.
                time.sleep(length + rng.uniform(0, 0.03))

    def record(self, app, lines):
        with self.lock:
            self.add_events(lines)
            result = [l.split() for l in lines if l.startswith('RESULT ')]
            if result:
                w = result[0]
                if w[1] == '0':
                    self.allowed[w[3]] = app.name
                else:
                    self.refused[w[2]] = self.refused.get(w[2], 0) + 1
                return True
            err = [l.split()[1] for l in lines if l.startswith('ERROR ') and len(l.split()) > 1]
            why = err[0].rsplit('.', 1)[-1] if err else 'app-killed-before-answer'
            self.no_answer[why] = self.no_answer.get(why, 0) + 1
            return False

    # ---- the killer ----

    def kill_devbgd(self, mode):
        self.devbgd.kill()
        with self.lock:
            self.generation += 1
            gen = self.generation
        self.kills += 1
        self.kill_modes[mode] = self.kill_modes.get(mode, 0) + 1
        left = processes_of(self.task_exe)   # what the dead devbgd left running
        time.sleep(self.rng.uniform(0, 0.05))  # down: requests fail meanwhile
        if self.rng.random() < 0.08:
            # Killed again while starting (ending the leftovers).
            self.devbgd.start(wait=False)
            time.sleep(self.rng.uniform(0, 0.08))
            self.devbgd.kill()
            left.update(processes_of(self.task_exe))
            self.kills += 1
            self.kill_modes['during-startup'] = self.kill_modes.get('during-startup', 0) + 1
        self.devbgd.start()
        # Apps that were waiting on the dead devbgd never hear from the new
        # one (it does not know them): they go, as an app that gives up.
        with self.lock:
            stale = [p for p, (g, _) in self.procs.items() if g < gen]
        for p in stale:
            if p.poll() is None:
                p.kill()
        self.check_leftovers(left)

    def check_leftovers(self, left):
        """The new devbgd ended what the killed one left (it owns its name
        only after that): none of those processes may live on."""
        self.leftovers += len(left)
        def alive():
            return [pid for pid, st in left.items() if proc_start_time(pid) == st]
        try:
            wait_for(lambda: not alive(), timeout=5, what='leftover tasks to end')
        except AssertionError:
            for pid in alive():
                self.orphans[pid] = 'left by a killed devbgd, alive after its restart'
                self.log('orphan: pid %d alive after the restart' % pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def reap_stuck(self):
        now = time.monotonic()
        with self.lock:
            stuck = [p for p, (_, t) in self.procs.items() if now - t > RUN_TIMEOUT]
        for p in stuck:
            if p.poll() is None:
                self.stuck += 1
                p.kill()

    def killer(self, workers):
        next_kill = self.rng.randint(1, 12)
        while True:
            with self.lock:
                issued, done = self.issued, self.issued >= self.lifecycles
            if done or not any(w.is_alive() for w in workers):
                return
            if issued < next_kill:
                self.reap_stuck()
                time.sleep(0.005)
                continue
            mode = self.rng.choice(['random-delay', 'after-app-start', 'while-completing'])
            if mode == 'random-delay':
                time.sleep(self.rng.uniform(0, 0.3))
            elif mode == 'after-app-start':
                self.spawned.clear()
                self.spawned.wait(2)
                time.sleep(self.rng.uniform(0, 0.02))
            else:
                self.completing.clear()
                self.completing.wait(2)
                time.sleep(self.rng.uniform(0, 0.01))
            self.kill_devbgd(mode)
            with self.lock:
                next_kill = self.issued + self.rng.randint(1, 10)

    # ---- the run ----

    def run(self):
        t0 = time.monotonic()
        workers = [threading.Thread(target=self.worker, args=(app, self.rng.random()), daemon=True)
                   for app in self.apps]
        for w in workers:
            w.start()
        try:
            self.killer(workers)
        finally:
            with self.lock:
                self.stop_flag = True
        deadline = time.monotonic() + RUN_TIMEOUT + 10
        for w in workers:
            while w.is_alive() and time.monotonic() < deadline:
                self.reap_stuck()
                w.join(0.1)
        self.settle()
        self.seconds = time.monotonic() - t0

    def settle(self):
        """devbgd up, every task ended, then each app's pending completions,
        acknowledged; then no task process and no populated task cgroup."""
        wait_for(lambda: self.running_tasks() == [], timeout=15, what='every task to end')
        for app in self.apps:
            lines = self.client(app, 'watch', '0.3', 'ack')
            self.record_final(lines)
            again = self.client(app, 'watch', '0.1')
            self.record_final(again)
            if parse_events(again):
                self.log('%s: events still pending after an ack: %s' % (app.name, again))
        procs = processes_of(self.task_exe)
        for pid in procs:
            self.orphans[pid] = 'task process alive at the end'
        self.populated = populated_cgroups(self.devbgd.cgroup_parent)

    def client(self, app, *args):
        r = subprocess.run([app.path] + list(args), env=self.bus.env(), capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError('%s %s: %s' % (app.name, args, r.stdout + r.stderr))
        return r.stdout.splitlines()

    def record_final(self, lines):
        with self.lock:
            self.add_events(lines)

    def add_events(self, lines):
        for event_id, instance, kind in parse_events(lines):
            old = self.events.setdefault(event_id, instance)
            if old != instance:
                self.event_conflicts.append((event_id, old, instance))
            self.kinds[event_id] = kind

    # ---- the verdict ----

    def verdict(self):
        per_instance = {}
        for event_id, instance in self.events.items():
            per_instance.setdefault(instance, set()).add(event_id)
        lost = [i for i in self.allowed if i not in per_instance]
        dup = [i for i in self.allowed if len(per_instance.get(i, ())) > 1]
        # Completions of instances whose "allowed" the app never saw (devbgd
        # died after recording the start, before its answer): fine, counted;
        # but none may have two either.
        unasked = [i for i in per_instance if i not in self.allowed]
        dup += [i for i in unasked if len(per_instance[i]) > 1]
        kinds = {}
        for event_id, kind in self.kinds.items():
            kinds[kind] = kinds.get(kind, 0) + 1
        ok = len(self.allowed) - len(lost) - len([i for i in dup if i in self.allowed])
        return {
            'lifecycles': self.issued, 'kills': self.kills, 'allowed': len(self.allowed),
            'completions_ok': ok, 'lost': lost, 'duplicated': dup,
            'orphans': len(self.orphans) + len(self.populated), 'orphan_detail': self.orphans,
            'populated': self.populated, 'unasked': len(unasked),
            'refused': self.refused, 'no_answer': self.no_answer, 'stuck': self.stuck,
            'kill_modes': self.kill_modes, 'conflicts': self.event_conflicts,
            'per_instance': per_instance, 'seconds': self.seconds, 'leftovers': self.leftovers,
            'kinds': kinds,
        }


def summary(v):
    return ('crash-soak lifecycles %d kills %d allowed %d completions-ok %d lost %d '
            'duplicated %d orphans %d' % (v['lifecycles'], v['kills'], v['allowed'],
                                          v['completions_ok'], len(v['lost']),
                                          len(v['duplicated']), v['orphans']))


def details(v):
    fmt = lambda d: ','.join('%s=%d' % kv for kv in sorted(d.items())) or '-'
    return ('  refused %d (%s) no-answer %d (%s) completions-of-unanswered-requests %d '
            'completions %s task-processes-left-by-a-kill %d stuck-runs %d kill-points %s '
            'seed %d%s %.1f s'
            % (sum(v['refused'].values()), fmt(v['refused']), sum(v['no_answer'].values()),
               fmt(v['no_answer']), v['unasked'], fmt(v['kinds']), v['leftovers'], v['stuck'],
               fmt(v['kill_modes']), v['seed'],
               ' devbgd-exit %s' % v['exit'] if v['exit'] else '', v['seconds']))


def failed(v):
    return bool(v['lost'] or v['duplicated'] or v['orphans'] or v['conflicts'] or v['sanitizer'])


def run_soak(lifecycles, apps=6, seed=None, log=None):
    """Runs the soak; returns (verdict, what went wrong with devbgd's log
    lines about it, or ''). The temporary directory is kept (and named through
    @log) when the soak failed or stopped on an error."""
    log = log or (lambda msg: None)
    if seed is None:
        seed = random.randrange(1 << 32)
    tmpdir = tempfile.mkdtemp(prefix='devbg-soak-')
    os.chmod(tmpdir, 0o755)
    soak = Soak(tmpdir, lifecycles, apps=apps, seed=seed, log=log)
    v = None
    try:
        soak.start()
        soak.run()
        v = soak.verdict()
    finally:
        with soak.lock:
            soak.stop_flag = True
        rc = soak.stop()
        if v is None:
            log('stopped on an error (seed %d); kept %s (devbgd.log)' % (seed, tmpdir))
    text = soak.devbgd.read_log() if os.path.exists(soak.devbgd.log_path) else ''
    v['seed'], v['exit'] = seed, rc
    # Under the sanitizer build, a report in devbgd's log is a failure.
    v['sanitizer'] = (text[text.find('=='):][:4000]
                      if 'Sanitizer' in text or 'runtime error:' in text else '')
    why = ''
    if failed(v):
        why = explain(soak, v, text)
        log('kept %s (devbgd.log)' % tmpdir)
    else:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return v, why


def explain(soak, v, text):
    """What went wrong, with devbgd's log lines about the instances concerned."""
    out = ['seed %d' % v['seed']]
    log = text.splitlines()
    for what, ids in (('lost', v['lost']), ('duplicated', v['duplicated'])):
        for i in ids[:5]:
            out.append('%s: instance %s (%s) events %s' % (
                what, i, soak.allowed.get(i, 'unanswered'), sorted(v['per_instance'].get(i, ()))))
            out += ['    ' + l for l in log if i in l][:12]
    for pid, why in list(v['orphan_detail'].items())[:5]:
        out.append('orphan: pid %d: %s' % (pid, why))
    for cg in v['populated'][:5]:
        out.append('populated cgroup at the end: %s' % cg)
    for c in v['conflicts'][:5]:
        out.append('event %s given for instances %s and %s' % c)
    if v['sanitizer']:
        out.append('devbgd: sanitizer report:\n' + v['sanitizer'])
    return '\n'.join(out)


def main():
    lifecycles = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    for exe in (TEST_TASK,):
        if not os.access(exe, os.X_OK):
            raise SystemExit('soak: %s is not built' % exe)
    seed = int(os.environ['DEVBG_SOAK_SEED']) if 'DEVBG_SOAK_SEED' in os.environ else None
    v, why = run_soak(lifecycles, seed=seed, log=lambda m: print('soak: ' + m, file=sys.stderr))
    print(summary(v), flush=True)
    print(details(v), flush=True)
    if why:
        print(why, file=sys.stderr)
    sys.exit(1 if failed(v) else 0)


if __name__ == '__main__':
    main()
