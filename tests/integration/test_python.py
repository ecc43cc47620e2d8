# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libdevbg from Python through GObject introspection, against the real
devbgd and devbg-sim's band: examples/python/devbg-example-app.py registers,
requests, follows progress and gets its completion, and the task that runs
is examples/python/devbg-example-task.py, a Python script the manifest names
as its Executable (devbgd execs it through its shebang).

A Python app cannot be identified by its executable (that would be
/usr/bin/python3), so it runs in a systemd-style app scope,
app-devbgtest-org.devbg.test.PyApp-<pid>.scope, which the test makes; the
task, started by devbgd with a clean environment, finds the uninstalled
typelib and library through its shebang line (env -S), as an installed one
would find them in the system paths."""
import os
import re
import select
import shutil
import subprocess
import time
import unittest

from devbgtest import (DevbgTestCase, DevbgSim, manifest_xml, wait_for, BUILD_DIR, SOURCE_DIR,
                       DEVBG_SIM, cgroup2_root)

APP_ID = 'org.devbg.test.PyApp'
BAND = 'virtual-B0A1-0000'
PY_APP = os.path.join(SOURCE_DIR, 'examples', 'python', 'devbg-example-app.py')
PY_TASK = os.path.join(SOURCE_DIR, 'examples', 'python', 'devbg-example-task.py')
WATCHER = os.path.join(SOURCE_DIR, 'tests', 'integration', 'py_watcher.py')
WATCH = os.path.join(SOURCE_DIR, 'tests', 'integration', 'py_watch.py')
LEFTOVER = os.path.join(SOURCE_DIR, 'tests', 'integration', 'py_leftover.py')
CANCEL = os.path.join(SOURCE_DIR, 'tests', 'integration', 'py_cancel.py')
ASYNC_CALLS = os.path.join(SOURCE_DIR, 'tests', 'integration', 'py_async_calls.py')
LIB_DIR = os.path.abspath(os.path.join(BUILD_DIR, 'lib'))


def sanitizer_env():
    """In a sanitizer build, libdevbg needs its sanitizer runtimes loaded
    first into Python, which was not built with them; Python's own
    allocations are not ours to check for leaks."""
    r = subprocess.run(['ldd', os.path.join(LIB_DIR, 'libdevbg.so')], capture_output=True,
                       text=True)
    preload = [line.split('=>')[1].split()[0] for line in r.stdout.splitlines()
               if 'san.so' in line and '=>' in line]
    if not preload:
        return {}
    return {'LD_PRELOAD': ':'.join(preload), 'ASAN_OPTIONS': 'detect_leaks=0'}


KEEP_ALIVE_TASK = '''import sys
import time
import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg


def run(task):
    args = dict(w.split('=', 1) for w in task.get_arguments().split())
    end = time.monotonic() + float(args['seconds'])
    while time.monotonic() < end:
        if task.is_canceled():
            task.complete(False, 'stopped: %s' % task.get_cancel_reason().value_nick)
            return
        if args['keepalive'] == '1':
            task.keep_alive()
        time.sleep(0.05)


sys.exit(Devbg.task_run(run))
'''


# Waits for the cancellation without polling is_canceled(): in select() on
# the cancel fd, or on the GCancellable.
CANCEL_WAIT_TASK = '''import select
import sys
import time
import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg


def run(task):
    start = time.monotonic()
    if task.get_arguments() == 'fd':
        ready, _, _ = select.select([task.get_cancel_fd()], [], [], 30)
        how = 'the cancel fd' if ready else 'nothing'
    else:
        cancellable = task.get_cancellable()
        while not cancellable.is_cancelled() and time.monotonic() - start < 30:
            time.sleep(0.01)
        how = 'the cancellable' if cancellable.is_cancelled() else 'nothing'
    task.complete(False, 'woken by %s after %.1f s' % (how, time.monotonic() - start))


sys.exit(Devbg.task_run(run))
'''


# Writes to its stdout and stderr, a long line too, for devbgd's log.
CHATTY_TASK = '''import sys
import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg


def run(task):
    print('hello from stdout')
    print('x' * 3000)
    sys.stdout.flush()
    print('trouble on stderr', file=sys.stderr, end='')


sys.exit(Devbg.task_run(run))
'''


class PythonTest(DevbgTestCase):
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=100\n')

    def install_task(self, name, body):
        """A Python task script at tasks/@name, whose shebang finds the
        uninstalled typelib and library."""
        path = os.path.join(self.tasks, name)
        extra = ''.join(' %s=%s' % kv for kv in sanitizer_env().items())
        with open(path, 'w') as f:
            f.write('#!/usr/bin/env -S GI_TYPELIB_PATH=%s LD_LIBRARY_PATH=%s%s /usr/bin/python3\n'
                    % (LIB_DIR, LIB_DIR, extra) + body)
        os.chmod(path, 0o755)
        return path

    def setUp(self):
        super().setUp()
        root = cgroup2_root()
        if root is None or not os.access(root, os.W_OK):
            self.skipTest('no writable cgroup v2 hierarchy for the app scope')
        if not os.path.exists(os.path.join(LIB_DIR, 'Devbg-1.typelib')):
            self.fail('no Devbg-1.typelib in ' + LIB_DIR)
        self.sim = DevbgSim(self.bus, self.tmpdir, ['--band-records', '230']).start()
        self.addCleanup(self.sim.stop)
        self.tasks = os.path.join(self.tmpdir, 'tasks')
        os.makedirs(self.tasks)
        os.chmod(self.tasks, 0o755)
        with open(PY_TASK) as f:
            body = f.read()
        self.assertTrue(body.startswith('#!/usr/bin/python3\n'))
        self.task = self.install_task('devbg-example-task.py', body.split('\n', 1)[1])
        keep_alive_task = self.install_task('keep-alive-task.py', KEEP_ALIVE_TASK)
        cancel_wait_task = self.install_task('cancel-wait-task.py', CANCEL_WAIT_TASK)
        chatty_task = self.install_task('chatty-task.py', CHATTY_TASK)
        self.reports = os.path.join(self.tmpdir, 'reports')
        os.makedirs(self.reports)
        os.chmod(self.reports, 0o777)
        self.devbgd.write_manifest('py.xml', manifest_xml(APP_ID, None, [
            ('PyExample.SyncBand', ['deviceUse'], self.task),
            ('PyTest.KeepAlive', ['deviceUse'], keep_alive_task),
            ('PyTest.CancelWait', ['deviceUse'], cancel_wait_task),
            ('PyTest.Chatty', ['deviceUse'], chatty_task)]))
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band')
        base = os.path.join(root, 'devbg-test-py-%d' % os.getpid())
        self.scope = os.path.join(base, 'app-devbgtest-%s-%d.scope' % (APP_ID, os.getpid()))
        os.makedirs(self.scope)
        self.addCleanup(os.rmdir, base)
        self.addCleanup(os.rmdir, self.scope)

    def run_app(self, *args, timeout=60, script=PY_APP):
        env = self.bus.env()
        env['GI_TYPELIB_PATH'] = LIB_DIR
        env['LD_LIBRARY_PATH'] = LIB_DIR
        env.update(sanitizer_env())
        cmd = ['sh', '-c', 'echo $$ > "%s/cgroup.procs" && exec "$@"' % self.scope, 'sh',
               '/usr/bin/python3', script] + list(args)
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout.splitlines(), r.stderr

    def test_python_app_runs_python_task(self):
        out = os.path.join(self.reports, 'records.csv')
        rc, lines, err = self.run_app('--arguments', 'chunk=40 out=%s' % out, BAND)
        self.assertEqual(rc, 0, (lines, err, self.devbgd.read_log()[-3000:]))
        kinds = [line.split()[0] for line in lines]
        self.assertEqual(kinds[0], 'REGISTERED')
        result = lines[1].split()
        self.assertEqual(result[:3], ['RESULT', 'allowed', 'allowed'], lines)
        instance = result[3]
        progress = [int(line.split()[2]) for line in lines if line.startswith('PROGRESS')]
        self.assertTrue(progress, lines)
        self.assertEqual(progress, sorted(progress))
        self.assertEqual(progress[-1], 100)
        self.assertIn('COMPLETED %s ok - ' % instance, '\n'.join(lines) + ' ')
        # The task really read the band: 230 records, each checked.
        with open(out) as f:
            records = f.read().splitlines()
        self.assertEqual(len(records), 230)
        self.assertEqual([int(r.split(',')[0]) for r in records], list(range(1, 231)))
        # And the band deleted what was acknowledged.
        state = self.sim.ctl('state', 'band0')
        self.assertIn("'records-pending': <uint32 0>", state)
        self.assertIn("'records-acked': <uint32 230>", state)

    def test_python_task_failure_reaches_python_app(self):
        # A task that cannot write its output completes with its error.
        rc, lines, err = self.run_app('--arguments', 'out=/nonexistent/dir/x', BAND)
        self.assertEqual(rc, 1, (lines, err))
        done = [line for line in lines if line.startswith('COMPLETED')]
        self.assertEqual(len(done), 1, lines)
        self.assertIn(' failed - ', done[0])
        self.assertIn('/nonexistent/dir/x', done[0])
        self.assertTrue(any(line.startswith('FAILED ') for line in lines), lines)

    def test_async_calls(self):
        # Every async/finish pair, and the main loop running while devbgd
        # is stopped (SIGSTOP) with a call in flight.
        rc, lines, err = self.run_app(str(self.devbgd.proc.pid), APP_ID, 'PyExample.SyncBand',
                                      DEVBG_SIM, BAND, script=ASYNC_CALLS)
        self.assertEqual(rc, 0, (lines, err))
        self.assertEqual(lines[-1], 'DONE', (lines, err))
        self.assertEqual(lines[0], 'STATUS %s cgroup' % APP_ID)
        self.assertIn('ALL-TASKS 3', lines)
        self.assertTrue(any(line.startswith('DEVICES ') for line in lines), lines)
        # GetStatus answers exactly the keys its documentation lists.
        keys = [line.split()[1].split(',') for line in lines if line.startswith('STATUS-KEYS ')][0]
        with open(os.path.join(SOURCE_DIR, 'data', 'org.devbg.Devbg1.xml')) as f:
            doc = re.search(r'GetStatus:.*?Keys:(.*?)-->', f.read(), re.S).group(1)
        documented = re.findall(r'([a-z][a-z-]*) \((?:s|u)\b', doc)
        self.assertEqual(sorted(keys), sorted(documented))
        self.assertTrue(any(line.startswith('CANCEL_ASYNC-ERROR ') for line in lines), lines)

    def test_task_waits_on_cancel_fd_and_cancellable(self):
        # A task blocked in select() on devbg_task_instance_get_cancel_fd(),
        # or watching its GCancellable, wakes when the app cancels it.
        for how, said in (('fd', 'the cancel fd'), ('cancellable', 'the cancellable')):
            rc, lines, err = self.run_app(BAND, 'PyTest.CancelWait', how, script=CANCEL)
            self.assertEqual(rc, 0, (lines, err))
            message = [line for line in lines if line.startswith('MESSAGE ')][0]
            m = re.search(r'the task said: woken by %s after ([0-9.]+) s' % said, message)
            self.assertIsNotNone(m, message)
            self.assertLess(float(m.group(1)), 5.0)

    def test_task_output_is_logged_with_its_instance(self):
        rc, lines, err = self.run_app('--name', 'chatty', '--entry-point', 'PyTest.Chatty', BAND)
        self.assertEqual(rc, 0, (lines, err))
        instance = [line.split()[3] for line in lines if line.startswith('RESULT ')][0]
        prefix = 'instance %s: ' % instance
        wait_for(lambda: prefix + 'stderr: trouble on stderr' in self.devbgd.read_log(),
                 what='the task\'s stderr in the log')
        log = self.devbgd.read_log()
        self.assertIn(prefix + 'stdout: hello from stdout', log)
        # Every line about the instance carries its IDs as fields (in the
        # journal; `devbgd --verbose` prints them after the message), in
        # the instance module's log domain.
        ended = [line for line in log.splitlines()
                 if 'instance %s of %s ended' % (instance, APP_ID) in line]
        self.assertEqual(len(ended), 1, log[-2000:])
        self.assertIn('devbg-instance-', ended[0])
        for field in ('DEVBG_INSTANCE=' + instance, 'DEVBG_APP=' + APP_ID,
                      'DEVBG_DEVICE=' + BAND, 'DEVBG_TASK='):
            self.assertIn(field, ended[0])
        started = [line for line in log.splitlines() if prefix in line and
                   ' runs PyTest.Chatty as pid ' in line]
        self.assertEqual(len(started), 1, log[-2000:])
        for line in log.splitlines():
            if prefix in line:
                self.assertIn('DEVBG_INSTANCE=' + instance, line)
        # A long line comes in pieces, none longer than the limit.
        pieces = [line for line in log.splitlines() if prefix + 'stdout: xxx' in line]
        self.assertGreaterEqual(len(pieces), 3)
        self.assertEqual(sum(p.count('x') for p in pieces), 3000)

    def leave_a_completion(self):
        rc, lines, err = self.run_app('leave', BAND, script=LEFTOVER)
        self.assertEqual(rc, 0, (lines, err))
        instance = lines[0].split()[1]
        wait_for(lambda: 'instance %s of %s ended' % (instance, APP_ID) in self.devbgd.read_log(),
                 what='the leftover instance to end')
        return instance

    def test_unregistered_leftover_completion_is_said_and_dropped(self):
        # "Remove the leftover registration, then register": the leftover's
        # pending completion is not kept forever in devbgd (counting against
        # MaxPendingEvents) nor dropped silently: the log says which.
        instance = self.leave_a_completion()
        rc, lines, err = self.run_app('clean', script=LEFTOVER)
        self.assertEqual(rc, 0, (lines, err))
        self.assertIn('PENDING 0', lines)
        self.assertIn('the completion of instance %s of task \'leftover\' (succeeded) was not '
                      'delivered' % instance, err)

    def test_unregistered_leftover_completion_reaches_its_handler(self):
        instance = self.leave_a_completion()
        rc, lines, err = self.run_app('clean', 'handler', script=LEFTOVER)
        self.assertEqual(rc, 0, (lines, err))
        self.assertIn('DELIVERED %s' % instance, lines)
        self.assertIn('PENDING 0', lines)
        self.assertNotIn('was not delivered', err)

    def test_acknowledgement_outlives_a_quick_quit(self):
        # An app that quits right after its "completed" handler: its
        # acknowledgement reaches devbgd, which keeps nothing pending.
        for _ in range(3):
            rc, lines, err = self.run_app('quick', BAND, script=LEFTOVER)
            self.assertEqual((rc, lines), (0, ['QUIT']), err)
            rc, lines, err = self.run_app('pending', script=LEFTOVER)
            self.assertEqual(lines, ['PENDING 0'], err)

    def test_tools_watch_list_and_history(self):
        # devbg_client_watch_tasks(): TaskChanged as the instance starts and
        # cancels, TaskEnded with its outcome; list_tasks and history agree.
        rc, lines, err = self.run_app(BAND, script=WATCH)
        self.assertEqual(rc, 0, (lines, err))
        self.assertEqual(lines[-1], 'DONE', (lines, err))

    def test_tool_watch_survives_devbgd_restart(self):
        # A tool's watch is renewed when devbgd comes back: the tasks after
        # the restart are reported too.
        env = self.bus.env()
        env['GI_TYPELIB_PATH'] = LIB_DIR
        env['LD_LIBRARY_PATH'] = LIB_DIR
        env.update(sanitizer_env())
        watcher = subprocess.Popen(['/usr/bin/python3', WATCHER], env=env, stdout=subprocess.PIPE,
                                   text=True)
        self.addCleanup(lambda: watcher.poll() is None and watcher.kill())
        ready = b''
        while not ready.endswith(b'\n'):
            chunk = os.read(watcher.stdout.fileno(), 1)
            self.assertNotEqual(chunk, b'', 'the watcher ended: %r' % ready)
            ready += chunk
        self.assertEqual(ready, b'READY\n')
        self.assertEqual(self.devbgd.stop(), 0)
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band again')
        rc, lines, err = self.run_app('--name', 'after-restart', '--entry-point', 'PyTest.Chatty',
                                      BAND)
        self.assertEqual(rc, 0, (lines, err))
        instance = [line.split()[3] for line in lines if line.startswith('RESULT ')][0]
        # Read with a deadline: a watch that was not renewed says nothing.
        fd, out, deadline = watcher.stdout.fileno(), b'', time.monotonic() + 15
        while ('ENDED %s' % instance).encode() not in out:
            remaining = deadline - time.monotonic()
            self.assertGreater(remaining, 0, 'no TaskEnded after the restart: %r' % out)
            if select.select([fd], [], [], remaining)[0]:
                chunk = os.read(fd, 4096)
                self.assertNotEqual(chunk, b'', 'the watcher ended: %r' % out)
                out += chunk
        self.assertIn('ENDED %s ok' % instance, out.decode())

    def test_python_app_sees_denial(self):
        rc, lines, err = self.run_app('no-such-device')
        self.assertEqual(rc, 1, (lines, err))
        result = [line.split() for line in lines if line.startswith('RESULT')]
        self.assertEqual(result[0][1:3], ['denied-by-system', 'no-such-device'], lines)


class KeepAliveTest(PythonTest):
    """devbg_task_instance_keep_alive(): a task that waits on purpose, with
    neither CPU nor device I/O, is not canceled as idle while it sends
    keep-alives; the same task without them is."""
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=300\nCpuWindowUnlocked=0.5\n'
              'IoActivityWindow=0.3\n')

    def keep_alive_run(self, keepalive):
        return self.run_app('--name', 'keepalive', '--entry-point', 'PyTest.KeepAlive',
                            '--arguments', 'seconds=2 keepalive=%d' % keepalive, BAND)

    def test_keep_alive_holds_off_idle_cancel(self):
        rc, lines, err = self.keep_alive_run(1)
        self.assertEqual(rc, 0, (lines, err, self.devbgd.read_log()[-2000:]))
        self.assertTrue(any(line.startswith('COMPLETED ') and ' ok - ' in line for line in lines),
                        lines)

    def test_without_keep_alive_idle_task_is_canceled(self):
        rc, lines, err = self.keep_alive_run(0)
        self.assertEqual(rc, 1, (lines, err))
        done = [line for line in lines if line.startswith('COMPLETED ')]
        self.assertEqual(len(done), 1, lines)
        self.assertIn(' failed idle-task ', done[0])

    def test_cancel_message_says_it_once(self):
        # devbgd's message already says "canceled (abort)"; check_result()
        # does not say it again, nor does the task's own message.
        rc, lines, err = self.run_app(BAND, script=CANCEL)
        self.assertEqual(rc, 0, (lines, err))
        message = [line[len('MESSAGE '):] for line in lines if line.startswith('MESSAGE ')][0]
        check = [line[len('CHECK '):] for line in lines if line.startswith('CHECK ')][0]
        self.assertTrue(message.startswith('canceled (abort): canceled by the app'), message)
        self.assertEqual(check, 'The task was ' + message)
        self.assertEqual(check.count('(abort)'), 1, check)

    # The example tests run in PythonTest; not again under this config.
    test_python_app_runs_python_task = None
    test_python_task_failure_reaches_python_app = None
    test_async_calls = None
    test_python_app_sees_denial = None
    test_task_waits_on_cancel_fd_and_cancellable = None
    test_task_output_is_logged_with_its_instance = None
    test_unregistered_leftover_completion_is_said_and_dropped = None
    test_unregistered_leftover_completion_reaches_its_handler = None
    test_acknowledgement_outlives_a_quick_quit = None
    test_tools_watch_list_and_history = None
    test_tool_watch_survives_devbgd_restart = None


if __name__ == '__main__':
    unittest.main()
