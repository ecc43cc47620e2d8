# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The task runtime against the real devbgd, devbg-sim's devices and the
test task (tests/helpers/devbg-test-task.c): requests, task processes,
every cancel reason, events and their delivery after a reconnect or a
restart of the service."""
import json
import os
import pwd
import signal
import subprocess
import time
import unittest

from devbgtest import (DevbgTestCase, DevbgSim, TestApp, manifest_xml, wait_for, BUILD_DIR,
                       DEVBGCTL)

TEST_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-test-task')
EXAMPLE_TASKS = os.path.join(BUILD_DIR, 'examples', 'devbg-example-tasks')
APP_A = 'org.devbg.test.AppA'
APP_B = 'org.devbg.test.AppB'
BAND = 'virtual-B0A1-0000'
DOCK = 'virtual-D0C1-0000'
ENTRY_POINTS = ['Test.Progress', 'Test.Fail', 'Test.IgnoreCancel', 'Test.Idle', 'Test.Exit',
                'Test.Io', 'Test.ReportFds', 'Test.Garbage', 'Test.Unsupervised', 'Test.Lingering',
                'Test.BlankLines', 'Test.Zeros', 'Test.Overshoot', 'Test.ReportsThenWaits']
# A COMPLETE success packet (docs/task-channel.md), as printf writes it.
COMPLETE_OK = '\\001\\023\\000\\000\\005\\000\\000\\000\\001\\000\\000\\000\\000'
ZEROS_SECONDS = 3
# PROGRESS packets of these values: a percentage, then values above 100.
OVERSHOOT = [50, 150, 150, 101, 0xffffffff]
ERR = 'org.devbg.Devbg1.Error.'
NOBODY = 65534


def parse(lines):
    """The test client's event lines, as (kind, fields)."""
    out = []
    for line in lines:
        kind, _, rest = line.partition(' ')
        fields = {'COMPLETED': 4, 'PENDING': 5}.get(kind)
        out.append((kind, rest.split(' ', fields) if fields else rest.split()))
    return out


class RuntimeBase(DevbgTestCase):
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=100\n')

    def setUp(self):
        super().setUp()
        self.sim = DevbgSim(self.bus, self.tmpdir, getattr(self, 'sim_args', ())).start()
        self.addCleanup(self.sim.stop)
        self.task_exe, = self.copy_tasks(TEST_TASK)
        tasks = os.path.dirname(self.task_exe)
        # A task that speaks nonsense on its control channel.
        self.garbage_exe = os.path.join(tasks, 'garbage-task')
        with open(self.garbage_exe, 'w') as f:
            f.write('#!/bin/sh\nprintf "this is not a channel message" >&4\nexec sleep 30\n')
        os.chmod(self.garbage_exe, 0o755)
        # One that drops its control channel and stays.
        self.unsupervised_exe = os.path.join(tasks, 'unsupervised-task')
        with open(self.unsupervised_exe, 'w') as f:
            f.write('#!/bin/sh\nexec 4>&-\nexec sleep 30\n')
        os.chmod(self.unsupervised_exe, 0o755)
        # One that completes (a COMPLETE success packet, docs/task-channel.md)
        # and does not leave.
        self.lingering_exe = os.path.join(tasks, 'lingering-task')
        with open(self.lingering_exe, 'w') as f:
            f.write('#!/bin/sh\nprintf "\\001\\023\\000\\000\\005\\000\\000\\000'
                    '\\001\\000\\000\\000\\000" >&4\nexec sleep 30\n')
        os.chmod(self.lingering_exe, 0o755)
        # One that writes 64 KiB of empty lines to stdout and to stderr,
        # then completes.
        blank_lines_exe = self.write_raw_task(
            tasks, 'blank-lines-task',
            "head -c 65536 /dev/zero | tr '\\0' '\\n'\n"
            "head -c 65536 /dev/zero | tr '\\0' '\\n' >&2\n"
            'printf "%s" >&4\n' % COMPLETE_OK)
        # One that writes zeros to stdout and stderr as fast as it can for
        # ZEROS_SECONDS, then completes.
        zeros_exe = self.write_raw_task(
            tasks, 'zeros-task',
            'timeout %d cat /dev/zero &\n'
            'timeout %d cat /dev/zero >&2\n'
            'wait\n'
            'printf "%s" >&4\n' % (ZEROS_SECONDS, ZEROS_SECONDS, COMPLETE_OK))
        # One that reports the OVERSHOOT progress values, then completes.
        overshoot_exe = self.write_raw_task(
            tasks, 'overshoot-task',
            ''.join('printf "\\001\\021\\000\\000\\004\\000\\000\\000%s" >&4\n'
                    % ''.join('\\%03o' % b for b in v.to_bytes(4, 'little')) for v in OVERSHOOT) +
            'printf "%s" >&4\n' % COMPLETE_OK)
        # One that reports progress 1..100, each a moment apart, then
        # waits (for a cancel) without reporting more.
        waits_exe = self.write_raw_task(
            tasks, 'reports-then-waits-task',
            ''.join('printf "\\001\\021\\000\\000\\004\\000\\000\\000%s" >&4; sleep 0.005\n'
                    % ''.join('\\%03o' % b for b in v.to_bytes(4, 'little'))
                    for v in range(1, 101)) +
            'exec sleep 60\n')
        self.reports = os.path.join(self.tmpdir, 'reports')
        os.makedirs(self.reports)
        os.chmod(self.reports, 0o777)
        self.app_a = TestApp(self.tmpdir, 'app-a')
        self.app_b = TestApp(self.tmpdir, 'app-b')
        hosts = {'Test.Garbage': self.garbage_exe, 'Test.Unsupervised': self.unsupervised_exe,
                 'Test.Lingering': self.lingering_exe, 'Test.BlankLines': blank_lines_exe,
                 'Test.Zeros': zeros_exe, 'Test.Overshoot': overshoot_exe,
                 'Test.ReportsThenWaits': waits_exe}
        eps = [(ep, ['deviceUse', 'deviceServicing'], hosts.get(ep, self.task_exe))
               for ep in ENTRY_POINTS]
        self.devbgd.write_manifest('a.xml', manifest_xml(APP_A, self.app_a.path, eps))
        self.devbgd.write_manifest('b.xml', manifest_xml(APP_B, self.app_b.path, eps))
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band')

    # ---- helpers ----

    @staticmethod
    def write_raw_task(directory, name, body):
        """A shell task that speaks the channel itself (no libdevbg)."""
        path = os.path.join(directory, name)
        with open(path, 'w') as f:
            f.write('#!/bin/sh\n' + body)
        os.chmod(path, 0o755)
        return path

    def instance_output_lines(self, iid):
        """The lines of the task's output that devbgd logged."""
        prefixes = tuple('instance %s: %s: ' % (iid, s) for s in ('stdout', 'stderr'))
        return [l for l in self.devbgd.read_log().splitlines() if any(p in l for p in prefixes)]

    def register(self, app, ep, trigger='use', user=None):
        return app.ok(self.bus, 'register', ep.lower(), ep, trigger, user=user)[0].split()[1]

    def run_task(self, app, ep, args='', device=BAND, trigger='use', duration=0, flags=(), user=None):
        tid = self.register(app, ep, trigger, user=user)
        return tid, parse(app.run(self.bus, 'run', tid, device, args, duration, *flags, user=user))

    def start_background(self, app, ep, args='', device=BAND, trigger='use', flags=(), user=None):
        """Runs `run` in the background; returns (process, task ID, instance ID)."""
        tid = self.register(app, ep, trigger, user=user)
        cmd = [app.path, 'run', tid, device, args, '0'] + list(flags)
        if user is not None:
            cmd = ['setpriv', '--reuid=%d' % user, '--regid=%d' % user, '--clear-groups'] + cmd
        proc = subprocess.Popen(cmd, env=self.bus.env(), stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        line = proc.stdout.readline().split()
        self.assertEqual(line[:3], ['RESULT', '0', 'allowed'], line)
        return proc, tid, line[3]

    def finish_background(self, proc):
        out, _ = proc.communicate(timeout=30)
        return parse(out.splitlines())

    @staticmethod
    def completed(events):
        done = [f for k, f in events if k == 'COMPLETED']
        assert len(done) == 1, events
        event_id, instance, success, reason, error = (done[0] + [''] * 5)[:5]
        return {'event_id': event_id, 'instance': instance, 'success': success == '1',
                'reason': reason, 'error': error}

    def tasks(self, app):
        out = app.ok(self.bus, 'call', 'ListTasks', '()')[0]
        return out


class RuntimeTest(RuntimeBase):
    # ---- requests ----

    def test_progress_and_completion_to_owner_only(self):
        watcher = subprocess.Popen([self.app_b.path, 'watch', '3'], env=self.bus.env(),
                                   stdout=subprocess.PIPE, text=True)
        tid, events = self.run_task(self.app_a, 'Test.Progress', 'count=20 interval_ms=20')
        self.assertEqual(events[0][0], 'RESULT')
        self.assertEqual(events[0][1][:2], ['0', 'allowed'])
        progress = [int(f[1]) for k, f in events if k == 'PROGRESS']
        self.assertTrue(progress, events)
        self.assertEqual(progress, sorted(progress))  # latest value, never backwards
        self.assertEqual(progress[-1], 20)
        done = self.completed(events)
        self.assertTrue(done['success'], done)
        self.assertEqual(done['reason'], '-')
        # App B heard nothing of A's task.
        out, _ = watcher.communicate(timeout=30)
        self.assertEqual(out.strip(), '')

    def test_task_runs_as_caller_with_two_fds_at_low_priority(self):
        report = os.path.join(self.reports, 'fds')
        tid, events = self.run_task(self.app_a, 'Test.ReportFds', 'path=' + report, user=NOBODY)
        self.assertTrue(self.completed(events)['success'], events)
        facts = dict(l.split('=', 1) for l in open(report).read().splitlines() if '=' in l)
        self.assertEqual(facts['fds'], '0,1,2,3,4')
        self.assertEqual(facts['uid'], str(NOBODY))
        self.assertEqual(int(facts['nice']), 10)
        self.assertEqual(facts['device'], BAND)
        self.assertEqual(facts['entry_point'], 'Test.ReportFds')

    def test_task_process_seen_from_proc(self):
        proc, tid, iid = self.start_background(self.app_a, 'Test.Idle', user=NOBODY)
        import json
        tasks = json.loads(self.devbgctl('--json', 'tasks').stdout)
        pid = [t['pid'] for t in tasks if t['instance-id'] == iid][0]
        status = dict(l.split(':', 1) for l in open('/proc/%d/status' % pid).read().splitlines())
        self.assertEqual(status['Uid'].split()[:2], [str(NOBODY)] * 2)
        self.assertEqual(status['NoNewPrivs'].strip(), '1')
        self.assertEqual(status['CapEff'].strip(), '0000000000000000')
        stat = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
        self.assertEqual(int(stat[16]), 10)          # nice (field 19)
        self.assertIn(int(stat[38]), (3, 5))         # policy (field 41): SCHED_BATCH or IDLE
        env = open('/proc/%d/environ' % pid, 'rb').read().split(b'\0')
        self.assertNotIn(b'DBUS_SYSTEM_BUS_ADDRESS=' + self.bus.address.encode(), env)
        self.app_a.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid, user=NOBODY)
        self.finish_background(proc)

    def test_second_request_refused_while_one_runs(self):
        proc, tid, iid = self.start_background(self.app_a, 'Test.Idle')
        _, events = self.run_task(self.app_a, 'Test.Progress')
        self.assertEqual(events[0], ('RESULT', ['2', 'already-running', '-']))
        # Another app may run its own, on another device: the band is busy.
        _, events = self.run_task(self.app_b, 'Test.Progress', 'count=2')
        self.assertEqual(events[0], ('RESULT', ['2', 'device-busy', '-']))
        _, events = self.run_task(self.app_b, 'Test.Progress', 'count=2', device=DOCK)
        self.assertTrue(self.completed(events)['success'])
        self.app_a.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid)
        done = self.completed(self.finish_background(proc))
        self.assertEqual(done['reason'], 'abort')

    def test_request_refusals(self):
        tid = self.register(self.app_a, 'Test.Progress')
        cases = [
            ('("not-a-uuid", "%s", "", uint32 0)' % BAND, ERR + 'InvalidArgument'),
            ('("%s", "", "", uint32 0)' % tid, ERR + 'InvalidArgument'),
            ('("%s", "%s", "", uint32 5)' % (tid, BAND), ERR + 'InvalidArgument'),  # use: no duration
            ('("%s", "%s", "%s", uint32 0)' % (tid, BAND, 'x' * 16385), ERR + 'InvalidArgument'),
            ('("00000000-0000-4000-8000-000000000000", "%s", "", uint32 0)' % BAND,
             ERR + 'NoSuchRegistration'),
        ]
        for args, err in cases:
            name, line = self.app_a.error(self.bus, 'call', 'Request', args)
            self.assertEqual(name, err, line)
        # Another app's task ID is no registration of this app.
        name, _ = self.app_b.error(self.bus, 'call', 'Request', '("%s", "%s", "", uint32 0)' % (tid, BAND))
        self.assertEqual(name, ERR + 'NoSuchRegistration')
        out = self.app_a.ok(self.bus, 'call', 'Request', '("%s", "virtual-NOPE", "", uint32 0)' % tid)[0]
        self.assertIn("(2, 'no-such-device', '', 'the device is not attached')", out)
        stid = self.register(self.app_a, 'Test.Progress', 'servicing')
        out = self.app_a.ok(self.bus, 'call', 'Request', '("%s", "%s", "", uint32 1800)' % (stid, DOCK))[0]
        self.assertIn("'estimate-too-long'", out)

    # ---- how a task ends ----

    def test_failing_task(self):
        _, events = self.run_task(self.app_a, 'Test.Fail', 'message=boom')
        done = self.completed(events)
        self.assertFalse(done['success'])
        self.assertIn('boom', done['error'])

    def test_exit_without_completing(self):
        _, events = self.run_task(self.app_a, 'Test.Exit', 'status=3')
        done = self.completed(events)
        self.assertFalse(done['success'])
        self.assertIn('exited with status 3 without completing', done['error'])

    def test_bad_channel_message_fails_task(self):
        _, events = self.run_task(self.app_a, 'Test.Garbage')
        done = self.completed(events)
        self.assertFalse(done['success'])
        self.assertIn('bad message from the task', done['error'])
        # devbgd is fine and serves the next request.
        _, events = self.run_task(self.app_a, 'Test.Progress', 'count=2')
        self.assertTrue(self.completed(events)['success'])

    def test_task_dropping_its_channel_is_ended(self):
        _, events = self.run_task(self.app_a, 'Test.Unsupervised')
        done = self.completed(events)
        self.assertFalse(done['success'])
        # Closed before or after devbgd sent the trigger details.
        self.assertRegex(done['error'], 'closed its control channel without completing|'
                                        'cannot send the trigger details')
        self.assertIn('killed by signal 9', done['error'])

    def test_empty_lines_cannot_flood_the_log(self):
        # 64 KiB of "\n" on each stream made devbgd log 131,074 messages
        # (a hostile review): journald drops a service's messages past
        # 10,000 per 30 s, hiding what came next. Each line now costs 128
        # bytes of the instance's 64 KiB: 512 lines at most, and one
        # notice that the rest is dropped.
        _, events = self.run_task(self.app_a, 'Test.BlankLines')
        done = self.completed(events)
        self.assertTrue(done['success'], done)
        notice = 'instance %s: its output reached 65536 bytes' % done['instance']
        wait_for(lambda: notice in self.devbgd.read_log(), what='the notice')
        log = self.devbgd.read_log()
        self.assertEqual(log.count(notice), 1)
        self.assertIn("the rest of the task's output is dropped", log)
        self.assertEqual(len(self.instance_output_lines(done['instance'])), 512)

    def devbgd_cpu_seconds(self):
        """devbgd's CPU time so far (utime + stime)."""
        stat = open('/proc/%d/stat' % self.devbgd.proc.pid).read().rsplit(')', 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf('SC_CLK_TCK')

    def test_output_past_the_budget_costs_devbgd_no_cpu(self):
        # devbgd read on, 4 KiB at a time, what it no longer logged: a task
        # writing zeros to stdout and stderr kept it at 100% of a core (a
        # hostile review), bypassing the task's nice 10. Past the budget it
        # now drops at most 64 KiB a stream every 100 ms; the task waits
        # on its full pipe meanwhile.
        cpu, start = self.devbgd_cpu_seconds(), time.monotonic()
        _, events = self.run_task(self.app_a, 'Test.Zeros')
        cpu, wall = self.devbgd_cpu_seconds() - cpu, time.monotonic() - start
        done = self.completed(events)
        self.assertTrue(done['success'], done)
        self.assertGreaterEqual(wall, ZEROS_SECONDS)
        self.assertLess(cpu, 0.1 * wall, 'devbgd used %.2f s of CPU in %.2f s' % (cpu, wall))
        log = self.devbgd.read_log()
        self.assertEqual(log.count('instance %s: its output reached' % done['instance']), 1)

    def test_progress_above_100_is_ignored_with_one_warning(self):
        # A task's progress above 100 reached the app as it was (an app
        # developer's review): devbgd ignores it now, and says so once per
        # instance however many come.
        _, events = self.run_task(self.app_a, 'Test.Overshoot')
        done = self.completed(events)
        self.assertTrue(done['success'], done)
        self.assertEqual([int(f[1]) for k, f in events if k == 'PROGRESS'], [50], events)
        log = self.devbgd.read_log()
        warning = 'instance %s: the task reported progress 150, above 100: ignored' % done['instance']
        self.assertEqual(log.count(warning), 1, log[-3000:])
        self.assertEqual(log.count('instance %s: the task reported progress' % done['instance']), 1)

    def test_completed_task_that_stays_is_ended_keeping_its_result(self):
        start = time.monotonic()
        _, events = self.run_task(self.app_a, 'Test.Lingering')
        done = self.completed(events)
        self.assertTrue(done['success'], events)  # what it said, not how it was ended
        self.assertGreaterEqual(time.monotonic() - start, 0.9)  # after the grace period

    def test_servicing_task_on_dock(self):
        _, events = self.run_task(self.app_a, 'Test.Progress', 'count=3', device=DOCK,
                                  trigger='servicing', duration=60)
        self.assertTrue(self.completed(events)['success'], events)

    # ---- cancel reasons ----

    def test_unregister_with_cancel_aborts(self):
        proc, tid, iid = self.start_background(self.app_a, 'Test.Idle')
        self.app_a.ok(self.bus, 'unregister', tid, 'cancel')
        done = self.completed(self.finish_background(proc))
        self.assertEqual(done['reason'], 'abort')
        self.assertIn('unregistered', done['error'])
        self.assertNotIn('killed', done['error'])  # it stopped in time

    def test_unregister_without_cancel_lets_it_finish(self):
        proc, tid, iid = self.start_background(self.app_a, 'Test.Progress', 'count=10 interval_ms=50')
        self.app_a.ok(self.bus, 'unregister', tid)
        done = self.completed(self.finish_background(proc))
        self.assertTrue(done['success'], done)

    def test_device_removal_is_condition_loss(self):
        proc, tid, iid = self.start_background(self.app_a, 'Test.Io', 'count=0 interval_ms=50')
        time.sleep(0.3)
        self.sim.ctl('detach', 'band0')
        done = self.completed(self.finish_background(proc))
        self.assertEqual(done['reason'], 'condition-loss', done)
        self.assertIn(BAND, done['error'])

    def test_device_removal_noticed_late_is_condition_loss(self):
        # devbgd learns of the removal after the task's next write to the
        # device: the task (libdevbg's runtime ignores SIGPIPE) sees EPIPE
        # and goes on until devbgd cancels it, instead of dying of it.
        proc, tid, iid = self.start_background(self.app_a, 'Test.Io', 'count=0 interval_ms=20')
        time.sleep(0.3)
        os.kill(self.devbgd.proc.pid, signal.SIGSTOP)
        try:
            self.sim.ctl('detach', 'band0')
            time.sleep(0.3)
        finally:
            os.kill(self.devbgd.proc.pid, signal.SIGCONT)
        done = self.completed(self.finish_background(proc))
        self.assertEqual(done['reason'], 'condition-loss', done)
        self.assertIn(BAND, done['error'])

    def test_device_removal_after_failure_is_condition_loss(self):
        # The task noticed first: it completed with its own failure and is
        # still leaving when devbgd hears of the removal. The removal is
        # the reason, and what the task said is kept.
        proc, tid, iid = self.start_background(self.app_a, 'Test.Fail',
                                               'message=band-gone stay_ms=700')
        time.sleep(0.3)
        self.sim.ctl('detach', 'band0')
        done = self.completed(self.finish_background(proc))
        self.assertFalse(done['success'], done)
        self.assertEqual(done['reason'], 'condition-loss', done)
        self.assertIn(BAND, done['error'])
        self.assertIn('band-gone', done['error'])

    def test_failure_before_removal_told_is_condition_loss(self):
        # The task fails of the band's going and leaves before devbgd (held
        # stopped) hears of the removal: the band's node was gone, so the
        # removal is the reason, as for a udev device's sysfs node.
        proc, tid, iid = self.start_background(self.app_a, 'Test.Fail',
                                               'message=band-gone delay_ms=600')
        time.sleep(0.2)
        os.kill(self.devbgd.proc.pid, signal.SIGSTOP)
        try:
            self.sim.ctl('detach', 'band0')
            time.sleep(0.8)  # the task has failed and exited meanwhile
        finally:
            os.kill(self.devbgd.proc.pid, signal.SIGCONT)
        done = self.completed(self.finish_background(proc))
        self.assertEqual(done['reason'], 'condition-loss', done)
        self.assertIn('band-gone', done['error'])

    def test_task_text_cannot_drive_the_terminal(self):
        # A task's error message is its own text, shown by devbgctl to
        # whoever lists the history (root too): terminal commands in it
        # (a title, a clear screen, hidden text) are printed escaped.
        evil = '\x1b]0;owned\x07\x1b[2J\x1b[8m\u009bfake'
        proc, tid, iid = self.start_background(self.app_a, 'Test.Fail', 'message=' + evil)
        done = self.completed(self.finish_background(proc))
        self.assertEqual(done['error'], evil)
        out = self.devbgctl('history').stdout
        self.assertIn('\\x1b]0;owned\\x07\\x1b[2J\\x1b[8m\\u009bfake', out)
        for control in ('\x1b', '\x07', '\u009b'):
            self.assertNotIn(control, out)
        # JSON keeps the text exact, escaped as JSON escapes it.
        h = json.loads(self.devbgctl('--json', 'history').stdout)
        self.assertIn(evil, [e.get('error') for e in h])

    def test_failure_with_device_attached_has_no_reason(self):
        # The device stays: a failure of the task's own is not a cancel.
        proc, tid, iid = self.start_background(self.app_a, 'Test.Fail',
                                               'message=own-fault stay_ms=300')
        done = self.completed(self.finish_background(proc))
        self.assertEqual(done['reason'], '-', done)  # none
        self.assertEqual(done['error'], 'own-fault', done)

    def test_grace_period_then_kill_with_children(self):
        child_path = os.path.join(self.reports, 'child')
        proc, tid, iid = self.start_background(self.app_a, 'Test.IgnoreCancel',
                                               'path=' + child_path)
        # It wrote its child's pid before it reported progress.
        for line in iter(proc.stdout.readline, ''):
            if line.startswith('PROGRESS'):
                break
        child = int(open(child_path).read())
        os.kill(child, 0)  # alive
        start = time.monotonic()
        self.app_a.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid)
        done = self.completed(self.finish_background(proc))
        self.assertGreaterEqual(time.monotonic() - start, 0.9)  # waited the grace period
        self.assertEqual(done['reason'], 'abort')
        # The completion says the task ignored the cancel, not only why it
        # was canceled (an app developer's review).
        self.assertRegex(done['error'], r'^canceled \(abort\): .*; the task was killed for not '
                                        r'stopping within the grace period \(1 s\)$')
        wait_for(lambda: not os.path.exists('/proc/%d' % child) or
                 open('/proc/%d/stat' % child).read().split(') ')[1][0] == 'Z',
                 what='the child to die')

    def test_app_exit_is_terminating_and_event_kept(self):
        tid = self.register(self.app_a, 'Test.Idle')
        lines = self.app_a.run(self.bus, 'run', tid, BAND, '', 0, 'exit-after-start')
        self.assertTrue(lines[0].startswith('RESULT 0 allowed'), lines)
        iid = lines[0].split()[3]
        # The app is gone: its task is canceled; the completion waits for it.
        events = wait_for(lambda: [e for e in parse(self.app_a.run(self.bus, 'watch', '0.2'))
                                   if e[0] == 'PENDING'], what='the pending completion')
        self.assertEqual(events[0][1][2], iid)
        self.assertEqual(events[0][1][4], 'terminating')
        # Acknowledged, it is gone for good.
        self.assertIn('ACKED 1', self.app_a.run(self.bus, 'watch', '0.1', 'ack'))
        r = subprocess.run([self.app_a.path, 'watch', '0.1'], env=self.bus.env(),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout), (0, ''))

    def send_and_exit_while_devbgd_is_stopped(self, app, method, args):
        """@app sends @method (without waiting for the reply) and exits;
        devbgd reads the call only after the process is gone."""
        proc = subprocess.Popen([app.path, 'send-and-exit', method, args], env=self.bus.env(),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertEqual(proc.stdout.readline().strip(), 'READY')  # identified
        os.kill(self.devbgd.proc.pid, signal.SIGSTOP)
        try:
            proc.communicate('go\n', timeout=30)
            self.assertEqual(proc.returncode, 0)
        finally:
            os.kill(self.devbgd.proc.pid, signal.SIGCONT)

    def test_acknowledgement_of_an_app_that_quit_is_kept(self):
        # An app quits right after its "completed" handler (the tutorial's
        # way): its acknowledgement is read after its end, and is kept;
        # else the event came again at its next start.
        tid = self.register(self.app_a, 'Test.Progress')
        self.app_a.run(self.bus, 'run', tid, BAND, 'count=1 interval_ms=10', 0)
        [event] = [f for k, f in parse(self.app_a.run(self.bus, 'watch', '0.2')) if k == 'PENDING']
        self.send_and_exit_while_devbgd_is_stopped(self.app_a, 'AcknowledgeEvents',
                                                   '(["%s"],)' % event[0])
        wait_for(lambda: 'AcknowledgeEvents' in self.devbgd.read_log(),
                 what='devbgd to read the call', timeout=10)
        r = subprocess.run([self.app_a.path, 'watch', '0.2'], env=self.bus.env(),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout), (0, ''))
        self.assertNotIn('refused AcknowledgeEvents', self.devbgd.read_log())
        # Any other call of a process that has gone is refused: a
        # registration sent so is not made.
        self.send_and_exit_while_devbgd_is_stopped(
            self.app_a, 'Register', '("late", "Test.Progress", "use")')
        wait_for(lambda: 'refused Register' in self.devbgd.read_log(), what='the refusal',
                 timeout=10)
        self.assertNotIn(' late ', ' '.join(self.app_a.ok(self.bus, 'list')))

    def test_devbgctl_tasks_watch(self):
        watch = subprocess.Popen([DEVBGCTL, 'tasks', '--watch'], env=self.bus.env(),
                                 stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: watch.poll() is None and watch.kill())
        _, events = self.run_task(self.app_a, 'Test.Progress', 'count=100 interval_ms=20')
        iid = self.completed(events)['instance']
        time.sleep(1.0)  # a poll or two after the end
        watch.terminate()
        out, _ = watch.communicate(timeout=10)
        lines = [l for l in out.splitlines() if l.startswith(iid)]
        self.assertTrue(any('running' in l and '%' in l for l in lines), out)
        self.assertEqual(lines[-1], iid + '  ended')

    def test_libdevbg_delivers_pending_completion_once(self):
        # The app's task ends while the app is away; libdevbg hands the
        # completion to the registration's "completed" handler when the app
        # is back, and acknowledges it, so it comes once.
        tid = self.register(self.app_a, 'Test.Fail')
        lines = self.app_a.run(self.bus, 'run', tid, BAND, 'message=away', 0, 'detach',
                               'exit-after-start')
        iid = lines[0].split()[3]
        wait_for(lambda: iid not in self.tasks(self.app_a), what='the task to end')
        first = self.app_a.run(self.bus, 'lib-events', '1')
        self.assertEqual(first, ['LIBCOMPLETED %s %s error: away' % (tid, iid)])
        r = subprocess.run([self.app_a.path, 'lib-events', '1'], env=self.bus.env(),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout, '')

    def test_detached_task_outlives_its_app(self):
        tid = self.register(self.app_a, 'Test.Idle')
        lines = self.app_a.run(self.bus, 'run', tid, BAND, '', 0, 'detach', 'exit-after-start')
        iid = lines[0].split()[3]
        time.sleep(0.5)
        self.assertIn(iid, self.tasks(self.app_a))
        self.assertNotIn(iid, self.tasks(self.app_b))  # another app does not, same uid or not
        self.assertNotIn(iid, self.app_b.run(self.bus, 'call', 'ListTasks', '()', user=NOBODY)[0])
        r = self.devbgctl('--json', 'tasks')
        self.assertIn(iid, r.stdout)  # root sees every task
        self.devbgctl('cancel', iid)
        events = wait_for(lambda: [e for e in parse(self.app_a.run(self.bus, 'watch', '0.2'))
                                   if e[0] == 'PENDING'], what='the completion')
        self.assertEqual(events[0][1][4], 'abort')
        self.assertIn('canceled by uid 0', events[0][1][5])
        h = self.devbgctl('--json', 'history')
        self.assertIn(iid, h.stdout)

    def test_other_app_cannot_cancel_or_detach(self):
        proc, tid, iid = self.start_background(self.app_a, 'Test.Idle', user=NOBODY)
        for method in ('Cancel', 'Detach'):
            name, _ = self.app_b.error(self.bus, 'call', method, '("%s",)' % iid)
            self.assertEqual(name, ERR + 'NoSuchTask')
        self.app_a.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid, user=NOBODY)
        self.assertEqual(self.completed(self.finish_background(proc))['reason'], 'abort')


class SlowReaderTest(RuntimeBase):
    """A connection that does not read gets at most a window of progress
    signals (src/daemon/devbg-peer-flow.h): dbus-daemon charges what it
    has not read to devbgd's own quota, and a full quota stops devbgd for
    everyone."""

    def start_watch(self, seconds):
        proc = subprocess.Popen([self.app_a.path, 'watch', str(seconds)], env=self.bus.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertEqual(proc.stderr.readline().strip(), 'WATCHING')
        return proc

    def test_a_listener_that_does_not_read_gets_a_window_of_progress(self):
        reading = self.start_watch(8)
        stopped = self.start_watch(8)
        os.kill(stopped.pid, signal.SIGSTOP)
        try:
            tid, events = self.run_task(self.app_a, 'Test.Progress', 'count=100 interval_ms=3')
        finally:
            os.kill(stopped.pid, signal.SIGCONT)
        self.assertEqual(self.completed(events)['success'], True)

        def progress(proc):
            out, _ = proc.communicate(timeout=30)
            return [int(f[1]) for k, f in parse(out.splitlines()) if k == 'PROGRESS']
        read, unread = progress(reading), progress(stopped)
        # The task reported more than the window: the reading listener saw it.
        self.assertGreater(len(read), 70, read)
        self.assertEqual(read[-1], 100)
        # The stopped one had at most the window (64) unread, then the
        # last value once more before the completion.
        self.assertLessEqual(len(unread), 64 + 2, unread)
        self.assertEqual(unread[-1], 100)

    WATCHER = """
import sys
from gi.repository import Gio, GLib
bus = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)
changes = []
bus.signal_subscribe('org.devbg.Devbg1', 'org.devbg.Devbg1.Manager', 'TaskChanged',
                     '/org/devbg/Devbg1', None, Gio.DBusSignalFlags.NONE,
                     lambda *a: changes.append(a[5].unpack()[0].get('progress', -1)))
bus.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager',
              'WatchTasks', None, None, Gio.DBusCallFlags.NONE, 10000, None)
print('READY', flush=True)
loop = GLib.MainLoop()
GLib.timeout_add(float(sys.argv[2]) * 1000, loop.quit)
loop.run()
print(' '.join(map(str, changes)))
"""

    def test_a_task_watcher_that_does_not_read_gets_a_window_of_progress(self):
        procs = []
        for _ in range(2):
            proc = subprocess.Popen(['/usr/bin/python3', '-c', self.WATCHER, self.bus.address, '6'],
                                    stdout=subprocess.PIPE, text=True)
            self.addCleanup(lambda p=proc: p.poll() is None and p.kill())
            self.assertEqual(proc.stdout.readline().strip(), 'READY')
            procs.append(proc)
        reading, stopped = procs
        os.kill(stopped.pid, signal.SIGSTOP)
        try:
            tid, events = self.run_task(self.app_a, 'Test.Progress', 'count=100 interval_ms=3')
        finally:
            os.kill(stopped.pid, signal.SIGCONT)
        read = reading.communicate(timeout=30)[0].split()
        unread = stopped.communicate(timeout=30)[0].split()
        self.assertGreater(len(read), 70, read)
        # The window (64), and the state changes, which are always sent.
        self.assertLessEqual(len(unread), 64 + 4, unread)

    def test_a_listener_that_reads_again_gets_the_latest_progress(self):
        # Paused, it missed progress 65 to 100; when it answers its Ping it
        # is sent the latest (100) while the task still runs, though the
        # task reports nothing more.
        stopped = self.start_watch(20)
        os.kill(stopped.pid, signal.SIGSTOP)
        try:
            proc, tid, iid = self.start_background(self.app_a, 'Test.ReportsThenWaits')
            for line in proc.stdout:
                if line.split() == ['PROGRESS', iid, '100']:
                    break
        finally:
            os.kill(stopped.pid, signal.SIGCONT)
        seen = []
        for line in stopped.stdout:
            seen.append(line.split())
            if line.split() == ['PROGRESS', iid, '100']:
                break
        self.assertEqual(seen[-1], ['PROGRESS', iid, '100'], seen)
        self.assertLessEqual(len(seen), 64 + 1, seen)
        self.app_a.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid)
        self.finish_background(proc)

    def test_completions_to_a_connection_that_does_not_read_are_bounded(self):
        # Not only progress: a completion and a task's end are sent to
        # every listener and watcher too, one per task run. A connection
        # that does not read gets the window (64), then they wait here up
        # to 256, then it is dropped, said in the log (a hostile-user
        # review filled dbus-daemon's quota for devbgd with short tasks).
        listener = self.start_watch(60)
        watcher = subprocess.Popen(['/usr/bin/python3', '-c', self.WATCHER, self.bus.address, '60'],
                                   stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: watcher.poll() is None and watcher.kill())
        self.assertEqual(watcher.stdout.readline().strip(), 'READY')
        for proc in (listener, watcher):
            os.kill(proc.pid, signal.SIGSTOP)
            self.addCleanup(os.kill, proc.pid, signal.SIGCONT)
        tid = self.register(self.app_a, 'Test.Fail')
        out = self.app_a.run(self.bus, 'run-many', tid, BAND, '340', '25')
        self.assertTrue(out[-1].startswith('MANY 340 0 340 0'), out[-3:])
        log = self.devbgd.read_log()
        self.assertEqual(log.count('does not read its signals'), 2, log[-2000:])
        # devbgd still answers everyone.
        self.assertIn('OK', self.app_b.run(self.bus, 'status')[0])

    def test_listeners_of_an_app_are_bounded(self):
        watchers = [self.start_watch(10) for _ in range(16)]
        r = subprocess.run([self.app_a.path, 'watch', '1'], env=self.bus.env(),
                           capture_output=True, text=True, timeout=30)
        self.assertIn('LimitExceeded', r.stdout)
        self.assertIn('16 connections', r.stdout)
        # Another app of the same user has its own.
        r = subprocess.run([self.app_b.path, 'watch', '0.1'], env=self.bus.env(),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout)
        # One that leaves makes room.
        watchers[0].kill()
        watchers[0].wait()
        wait_for(lambda: subprocess.run([self.app_a.path, 'watch', '0.1'], env=self.bus.env(),
                                        capture_output=True, text=True,
                                        timeout=30).returncode == 0,
                 what='room for one more listener')

    def test_task_watchers_of_a_user_are_bounded(self):
        from gi.repository import Gio, GLib
        conns = []
        for i in range(17):
            c = Gio.DBusConnection.new_for_address_sync(
                self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
            conns.append(c)
            try:
                c.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager',
                            'WatchTasks', None, None, Gio.DBusCallFlags.NONE, 10000, None)
                self.assertLess(i, 16)
            except GLib.Error as e:
                self.assertEqual(i, 16)
                self.assertIn('LimitExceeded', e.message)
        for c in conns:
            c.close_sync(None)


class RuntimePolicyTest(RuntimeBase):
    """Each runtime limit, shrunk."""
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=100\n'
              'UseWallClockLimit=1\n')

    def test_wall_clock_limit(self):
        _, events = self.run_task(self.app_a, 'Test.Idle')
        done = self.completed(events)
        self.assertEqual(done['reason'], 'execution-time-exceeded')


class IoPolicyTest(RuntimeBase):
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=1\n')

    def test_no_io_is_idle(self):
        _, events = self.run_task(self.app_a, 'Test.Idle')
        done = self.completed(events)
        self.assertEqual(done['reason'], 'idle-task')
        self.assertIn('no I/O', done['error'])

    def test_idle_task_that_ignores_the_cancel_is_said_killed(self):
        # The app developer's case: the reason stays idle-task, and the
        # error says the task was then killed.
        _, events = self.run_task(self.app_a, 'Test.IgnoreCancel')
        done = self.completed(events)
        self.assertEqual(done['reason'], 'idle-task')
        self.assertEqual(done['error'], 'canceled (idle-task): no I/O to the device in 1 s; the '
                                        'task was killed for not stopping within the grace '
                                        'period (1 s)')

    def test_regular_io_keeps_running(self):
        _, events = self.run_task(self.app_a, 'Test.Io', 'count=15 interval_ms=100')
        self.assertTrue(self.completed(events)['success'], events)

    def test_servicing_needs_no_io(self):
        _, events = self.run_task(self.app_a, 'Test.Progress', 'count=10 interval_ms=100',
                                  device=DOCK, trigger='servicing', duration=10)
        self.assertTrue(self.completed(events)['success'], events)


class CpuPolicyTest(RuntimeBase):
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCancelGracePeriod=1\nIoActivityWindow=100\n'
              'CpuFloorMs=200\nCpuWindowUnlocked=0.5\n')

    def test_cpu_floor_is_idle(self):
        _, events = self.run_task(self.app_a, 'Test.Idle')
        done = self.completed(events)
        self.assertEqual(done['reason'], 'idle-task')
        self.assertIn('CPU', done['error'])


class ServiceLifeTest(RuntimeBase):
    def running_pid(self, iid):
        out = self.devbgctl('--json', 'tasks').stdout
        import json
        for t in json.loads(out):
            if t['instance-id'] == iid:
                return t['pid']
        return None

    def test_sigterm_ends_tasks_and_keeps_completion(self):
        tid = self.register(self.app_a, 'Test.IgnoreCancel')
        lines = self.app_a.run(self.bus, 'run', tid, BAND, '', 0, 'detach', 'exit-after-start')
        iid = lines[0].split()[3]
        pid = wait_for(lambda: self.running_pid(iid), what='the task pid')
        self.assertEqual(self.devbgd.stop(), 0)
        self.assertFalse(os.path.exists('/proc/%d' % pid) and
                         open('/proc/%d/stat' % pid).read().split(') ')[1][0] != 'Z')
        self.devbgd.start()
        events = [e for e in parse(self.app_a.run(self.bus, 'watch', '0.2')) if e[0] == 'PENDING']
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0][1][2], iid)
        self.assertEqual(events[0][1][4], 'terminating')
        self.assertIn('devbgd is stopping', events[0][1][5])

    def test_a_second_devbgd_on_the_same_state_dir_touches_nothing(self):
        # An administrator starting devbgd by hand beside the service (with
        # --verbose, say) ended the running tasks as a crash had left them,
        # then found the bus name taken (an administrator's review): now
        # the second one stops at the state directory's lock.
        tid = self.register(self.app_a, 'Test.Idle')
        lines = self.app_a.run(self.bus, 'run', tid, BAND, '', 0, 'detach', 'exit-after-start')
        iid = lines[0].split()[3]
        pid = wait_for(lambda: self.running_pid(iid), what='the task pid')
        second = subprocess.run(self.devbgd.args(), env=self.bus.env(), capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(second.returncode, 1, second.stderr)
        self.assertIn('another devbgd uses the state directory', second.stderr)
        self.assertEqual(self.running_pid(iid), pid)
        os.kill(pid, 0)
        self.app_a.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid)

    def test_crash_then_restart_ends_orphan_and_keeps_completion(self):
        tid = self.register(self.app_a, 'Test.Idle')
        lines = self.app_a.run(self.bus, 'run', tid, BAND, '', 0, 'detach', 'exit-after-start')
        iid = lines[0].split()[3]
        pid = wait_for(lambda: self.running_pid(iid), what='the task pid')
        self.devbgd.kill()  # SIGKILL: no chance to clean up
        os.kill(pid, 0)     # the orphan task still runs...
        self.devbgd.start()
        # ...until devbgd starts again and ends it.
        wait_for(lambda: not os.path.exists('/proc/%d' % pid) or
                 open('/proc/%d/stat' % pid).read().split(') ')[1][0] == 'Z', what='the orphan to die')
        events = [e for e in parse(self.app_a.run(self.bus, 'watch', '0.2')) if e[0] == 'PENDING']
        self.assertEqual([e[1][2] for e in events], [iid])
        self.assertIn('devbgd stopped while the task ran', events[0][1][5])


class ServicingTest(RuntimeBase):
    """The example app's firmware-update task on the simulated dock: the dock
    resets, leaves, comes back with its new firmware, and devbgd hands the
    task the device again (REOPEN_DEVICE)."""
    sim_args = ('--reset-delay-ms', '300')

    def setUp(self):
        super().setUp()
        # Built against the shared libdevbg, as a vendor's would be: it runs
        # from the build tree, where its rpath points.
        self.example_tasks = os.path.realpath(EXAMPLE_TASKS)
        self.updater = TestApp(self.tmpdir, 'updater')
        self.devbgd.stop()
        self.devbgd.write_manifest('u.xml', manifest_xml('org.devbg.test.Updater', self.updater.path, [
            ('ExampleApp.UpdateDockFirmware', ['deviceServicing', 'deviceUse'], self.example_tasks)]))
        self.devbgd.start()
        wait_for(lambda: DOCK in self.devbgctl('devices').stdout, what='the dock')

    def dock_version(self):
        import json
        for d in json.loads(self.devbgctl('--json', 'devices').stdout):
            if d.get('id') == DOCK:
                return d.get('firmware-version')
        return None

    def test_firmware_update_survives_reset(self):
        self.assertEqual(self.dock_version(), '1.0.0')
        _, events = self.run_task(self.updater, 'ExampleApp.UpdateDockFirmware',
                                  'version=2.1.0 size=16384', device=DOCK, trigger='servicing',
                                  duration=60)
        done = self.completed(events)
        self.assertTrue(done['success'], events)
        progress = [int(f[1]) for k, f in events if k == 'PROGRESS']
        self.assertEqual(progress[-1], 100)
        self.assertEqual(wait_for(lambda: self.dock_version() == '2.1.0' and '2.1.0',
                                  what='the new version'), '2.1.0')

    def test_dock_that_never_returns_fails_the_update(self):
        self.sim.ctl('fault', 'dock0', 'no-return', '1')
        _, events = self.run_task(self.updater, 'ExampleApp.UpdateDockFirmware',
                                  'version=2.1.0 size=4096 reopen-timeout-ms=1000', device=DOCK,
                                  trigger='servicing', duration=60)
        done = self.completed(events)
        self.assertFalse(done['success'])
        self.assertIn('did not come back within 1000 ms', done['error'])

    def test_use_task_may_not_reopen(self):
        _, events = self.run_task(self.updater, 'ExampleApp.UpdateDockFirmware',
                                  'version=2.1.0 size=4096', device=DOCK, trigger='use')
        done = self.completed(events)
        self.assertFalse(done['success'])
        # The dock leaving after its reset cancels a use task, and may do so
        # before the task asks for it again: either way it does not get it.
        if done['reason'] == '-':
            self.assertIn('only servicing tasks may reopen their device', done['error'])
        else:
            self.assertEqual(done['reason'], 'condition-loss')


class LogindInhibitTest(RuntimeBase):
    """While a servicing task runs, devbgd holds a logind sleep and shutdown
    inhibitor (python-dbusmock's logind template on the private bus)."""

    def setUp(self):
        super().setUp()
        self.logind = subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--system',
                                        '--template', 'logind'],
                                       env=self.bus.env(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (self.logind.terminate(), self.logind.wait(10)))
        wait_for(lambda: self.inhibitors() is not None, what='the mock logind')

    def inhibitors(self):
        r = subprocess.run(['gdbus', 'call', '--system', '--dest', 'org.freedesktop.login1',
                            '--object-path', '/org/freedesktop/login1', '--method',
                            'org.freedesktop.login1.Manager.ListInhibitors'],
                           env=self.bus.env(), capture_output=True, text=True, timeout=30)
        return r.stdout if r.returncode == 0 else None

    def test_servicing_task_holds_inhibitor(self):
        proc, tid, iid = self.start_background(self.app_a, 'Test.Idle', device=DOCK,
                                               trigger='servicing')
        held = wait_for(lambda: 'devbgd' in self.inhibitors() and self.inhibitors(),
                        what='the inhibitor')
        self.assertIn("'sleep:shutdown', 'devbgd'", held)
        self.assertIn("'block'", held)
        self.app_a.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid)
        self.finish_background(proc)
        wait_for(lambda: 'devbgd' not in self.inhibitors(), what='the inhibitor released')

    def test_use_task_holds_none(self):
        proc, tid, iid = self.start_background(self.app_a, 'Test.Idle')
        time.sleep(0.5)
        self.assertNotIn('devbgd', self.inhibitors())
        self.app_a.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid)
        self.finish_background(proc)


class ExampleAppTest(RuntimeBase):
    """The example vendor app and its tasks, built on libdevbg, through the
    seed's two sample flows, against the real devbgd and devbg-sim."""
    sim_args = ('--reset-delay-ms', '300')

    def setUp(self):
        super().setUp()
        self.app = os.path.realpath(os.path.join(BUILD_DIR, 'examples', 'devbg-example-app'))
        tasks = os.path.realpath(EXAMPLE_TASKS)
        self.devbgd.stop()
        self.devbgd.write_manifest('example.xml', manifest_xml('org.devbg.ExampleApp', self.app, [
            ('ExampleApp.SyncBand', ['deviceUse'], tasks),
            ('ExampleApp.UpdateDockFirmware', ['deviceServicing'], tasks)]))
        self.devbgd.start()
        wait_for(lambda: DOCK in self.devbgctl('devices').stdout, what='the dock')

    def example(self, *args):
        # The app runs as root, and a root caller's task as TaskUserForRoot
        # (devbg-task): the task's output directory must be writable by it.
        task_user = pwd.getpwnam('devbg-task')
        out = os.path.join(self.tmpdir, '.local', 'share', 'devbg-example-app')
        os.makedirs(out, exist_ok=True)
        os.chown(out, task_user.pw_uid, task_user.pw_gid)
        env = self.bus.env()
        env['HOME'] = self.tmpdir
        env.pop('XDG_DATA_HOME', None)
        return subprocess.run([self.app] + list(args), env=env, capture_output=True, text=True,
                              timeout=60)

    def test_sync_flow(self):
        r = self.example('sync', BAND)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('request: allowed', r.stdout)
        self.assertIn('completed: success', r.stdout)
        records = os.path.join(self.tmpdir, '.local', 'share', 'devbg-example-app',
                               'band-records.csv')
        with open(records) as f:
            self.assertEqual(len(f.read().splitlines()), 100)
        # The sample unregisters when done.
        listing = self.example('list')
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertNotIn('band-sync', listing.stdout)

    def test_update_flow(self):
        r = self.example('update', DOCK, '3.0.1')
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('completed: success', r.stdout)
        self.assertIn('3.0.1', self.devbgctl('devices').stdout)

    def test_denied_request_is_reported(self):
        r = self.example('sync', 'virtual-NOPE')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('no-such-device', r.stdout + r.stderr)


if __name__ == '__main__':
    unittest.main()
