# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""devbgctl monitor in a real pseudo-terminal (tmux), against the real
devbgd and the test task: it shows the running tasks with their app,
device, trigger, progress and limit; a task that starts later appears
without a key pressed (events, not polling by the user); `c` cancels the
selected task; `q` quits and leaves the terminal as it found it (the
screen from before, canonical mode and echo)."""
import os
import shutil
import subprocess
import unittest

import test_runtime as rt
from devbgtest import wait_for, DEVBGCTL


class MonitorTest(rt.RuntimeBase):
    def setUp(self):
        if shutil.which('tmux') is None:
            self.skipTest('no tmux')
        super().setUp()
        self.sock = os.path.join(self.tmpdir, 'tmux.sock')
        self.addCleanup(lambda: subprocess.run(['tmux', '-S', self.sock, 'kill-server'],
                                               capture_output=True))

    def tmux(self, *args):
        return subprocess.run(['tmux', '-S', self.sock] + list(args), check=True,
                              capture_output=True, text=True).stdout

    def screen(self):
        return self.tmux('capture-pane', '-p', '-t', 'mon')

    def wait_screen(self, predicate, what):
        """The first screen that satisfies @predicate."""
        def check():
            s = self.screen()
            return s if predicate(s) else None
        try:
            return wait_for(check, timeout=15, what=what)
        except AssertionError:
            raise AssertionError('%s; the screen:\n%s' % (what, self.screen()))

    def test_monitor_live_cancel_and_restore(self):
        proc_a, _, iid_a = self.start_background(self.app_a, 'Test.Idle')
        script = ('echo BEFORE-MONITOR; stty -a | grep -o -- "-*icanon"; '
                  '"%s" monitor; echo "AFTER-MONITOR rc=$?"; stty -a | grep -o -- "-*icanon"; '
                  'stty -a | grep -o -- " -*echo "; sleep 60' % DEVBGCTL)
        self.tmux('new-session', '-d', '-s', 'mon', '-x', '170', '-y', '40',
                  'env', 'DBUS_SYSTEM_BUS_ADDRESS=' + self.bus.address, 'sh', '-c', script)
        s = self.wait_screen(lambda s: rt.APP_A in s and 'devbgctl monitor' in s,
                             'the monitor showing app A\'s task')
        row = [line for line in s.splitlines() if rt.APP_A in line][0]
        self.assertIn(rt.BAND, row)
        self.assertIn('use', row)
        self.assertIn('%', row)
        self.assertIn('s/600s', row)        # elapsed against the use trigger's limit
        self.assertIn('running', row)
        self.assertTrue(row.startswith('>'), row)   # selected
        self.assertNotIn('BEFORE-MONITOR', s)      # the alternate screen

        # A task that starts now shows up by itself: the monitor follows
        # devbgd's events.
        proc_b, _, iid_b = self.start_background(self.app_b, 'Test.Idle', device=rt.DOCK)
        self.wait_screen(lambda s: rt.APP_B in s and rt.DOCK in s, 'app B\'s task to appear')

        # c cancels the selected one (app A's, the oldest).
        self.tmux('send-keys', '-t', 'mon', 'c')
        events = self.finish_background(proc_a)
        done = self.completed(events)
        self.assertEqual(done['instance'], iid_a)
        self.assertEqual(done['reason'], 'abort')
        s = self.wait_screen(lambda s: 'ENDED' in s and
                             any(rt.APP_A in line and 'failed' in line
                                 for line in s.split('ENDED', 1)[1].splitlines()),
                             'app A\'s task among the ended')
        running = s.split('ENDED', 1)[0]
        self.assertNotIn(rt.APP_A, running)
        self.assertIn(rt.APP_B, running)

        self.tmux('send-keys', '-t', 'mon', 'q')
        s = self.wait_screen(lambda s: 'AFTER-MONITOR rc=0' in s and
                             len([l for l in s.split('AFTER-MONITOR rc=0', 1)[1].splitlines()
                                  if l.strip()]) >= 2,
                             'the monitor to quit, and the terminal\'s mode after')
        lines = s.splitlines()
        self.assertIn('BEFORE-MONITOR', lines)     # the screen from before is back
        after = lines[lines.index('AFTER-MONITOR rc=0') + 1:]
        self.assertEqual(after[0].strip(), 'icanon')   # canonical mode, as before
        self.assertEqual(after[1].strip(), 'echo')
        self.assertNotIn('devbgctl monitor', s)
        self.assertNotIn('CRITICAL', s)
        self.assertNotIn('WARNING', s)
        self.app_b.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid_b)
        self.finish_background(proc_b)

    def test_monitor_refuses_without_terminal(self):
        r = subprocess.run([DEVBGCTL, 'monitor'], env=self.bus.env(), capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn('needs a terminal', r.stderr)


if __name__ == '__main__':
    unittest.main()
