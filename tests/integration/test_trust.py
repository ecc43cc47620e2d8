# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 7's attacks and faults against the real devbgd, as a hostile local
user would try them: two real users running the same app (uid 1, daemon,
and uid 65534, nobody), calls that leaked their message, replies larger
than the bus allows, stores that grew without bound, two apps on one
device."""
import os
import sqlite3
import subprocess
import unittest

from devbgtest import DEVBGCTL, event_fields, rss_kib, sanitized
from test_runtime import RuntimeBase, parse, BAND, DOCK, ERR

ALICE = 1       # "daemon": a real user with a passwd entry
MALLORY = 65534  # "nobody"


class TrustTest(RuntimeBase):
    config = RuntimeBase.config + '[Service]\nMaxRegistrationsPerApp=3\nMaxPendingEvents=4\n'

    def pending(self, app, user):
        """The event IDs of the pending events (packed pages, decoded by
        libdevbg's codec)."""
        lines = app.ok(self.bus, 'events-pages', user=user)
        return [line.split()[1] for line in lines if line.startswith('EVENT ')]

    def history(self, app, user):
        """Every page, through libdevbg (History's pages are packed)."""
        return '\n'.join(app.ok(self.bus, 'history', 0, user=user))

    # ---- finding 1: one app's state is per (user, app) ----

    def test_same_app_two_users_share_nothing(self):
        # Mallory's copy of app A runs a task.
        proc, tid_m, iid_m = self.start_background(self.app_a, 'Test.Idle', user=MALLORY)

        # Alice runs the same app: she sees none of it ...
        self.assertEqual(self.app_a.ok(self.bus, 'list', user=ALICE)[0], 'OK 0')
        self.assertNotIn(iid_m, self.app_a.ok(self.bus, 'call', 'ListTasks', '()', user=ALICE)[0])
        # ... touches none of it ...
        for method, args, err in [
                ('Unregister', '("%s", true)' % tid_m, 'NoSuchRegistration'),
                ('Cancel', '("%s",)' % iid_m, 'NoSuchTask'),
                ('Detach', '("%s",)' % iid_m, 'NoSuchTask'),
                ('Request', '("%s", "%s", "", uint32 0)' % (tid_m, DOCK), 'NoSuchRegistration')]:
            name, _ = self.app_a.error(self.bus, 'call', method, args, user=ALICE)
            self.assertEqual(name, ERR + err, method)
        # ... and is not blocked by Mallory's running task (the one-task rule
        # is per user's copy of the app).
        _, events = self.run_task(self.app_a, 'Test.Progress', 'count=2', device=DOCK, user=ALICE,
                                  flags=('ack',))
        self.assertTrue(self.completed(events)['success'])
        self.assertIn(iid_m, self.app_a.ok(self.bus, 'call', 'ListTasks', '()', user=MALLORY)[0])
        self.app_a.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid_m, user=MALLORY)
        done = self.completed(self.finish_background(proc))
        self.assertEqual(done['reason'], 'abort')

        # Mallory's completion is pending for Mallory only: Alice neither
        # sees it nor can steal it by acknowledging it, nor reads its history.
        self.assertEqual(self.pending(self.app_a, ALICE), [])
        self.app_a.ok(self.bus, 'call', 'AcknowledgeEvents', '(["%s"],)' % done['event_id'],
                      user=ALICE)
        self.assertEqual(self.pending(self.app_a, MALLORY), [done['event_id']])
        self.assertNotIn(done['instance'], self.history(self.app_a, ALICE))
        self.assertIn(done['instance'], self.history(self.app_a, MALLORY))

    def test_limits_are_per_user(self):
        for i in range(3):
            self.app_a.ok(self.bus, 'register', 'm%d' % i, 'Test.Progress', 'use', user=MALLORY)
        name, _ = self.app_a.error(self.bus, 'register', 'm3', 'Test.Progress', 'use', user=MALLORY)
        self.assertEqual(name, ERR + 'LimitExceeded')
        # Mallory's full quota does not lock Alice out of the app.
        self.app_a.ok(self.bus, 'register', 'a0', 'Test.Progress', 'use', user=ALICE)

    def test_admin_sees_every_user(self):
        proc, _, iid = self.start_background(self.app_a, 'Test.Idle', user=MALLORY)
        # devbgctl as root (no app) sees and cancels every user's tasks;
        # as another user, none of Mallory's.
        self.assertIn(iid, self.devbgctl('tasks').stdout)
        r = subprocess.run(['setpriv', '--reuid=%d' % ALICE, '--regid=%d' % ALICE,
                            '--clear-groups', DEVBGCTL, 'tasks'],
                           env=self.bus.env(), capture_output=True, text=True, timeout=30)
        self.assertNotIn(iid, r.stdout)
        self.devbgctl('cancel', iid)
        self.assertEqual(self.completed(self.finish_background(proc))['reason'], 'abort')

    # ---- finding 11: a device runs one task at a time ----

    def test_second_app_refused_on_busy_device(self):
        proc, _, iid = self.start_background(self.app_a, 'Test.Io', 'count=15 interval_ms=20',
                                             user=MALLORY)
        _, events = self.run_task(self.app_b, 'Test.Io', 'count=1', user=ALICE)
        self.assertEqual(events[0], ('RESULT', ['2', 'device-busy', '-']))
        # A's task was untouched: it does its I/O to the end and succeeds.
        done = self.completed(self.finish_background(proc))
        self.assertTrue(done['success'], done)
        self.assertEqual(done['reason'], '-')
        # Free again.
        _, events = self.run_task(self.app_b, 'Test.Io', 'count=1', user=ALICE)
        self.assertTrue(self.completed(events)['success'])

    # ---- finding 5: what is kept is bounded ----

    def test_pending_events_capped_none_dropped(self):
        tid = self.register(self.app_a, 'Test.Progress', user=MALLORY)
        ids = []
        for _ in range(4):
            events = parse(self.app_a.run(self.bus, 'run', tid, BAND, 'count=1', 0, user=MALLORY))
            ids.append(self.completed(events)['event_id'])
        events = parse(self.app_a.run(self.bus, 'run', tid, BAND, 'count=1', 0, user=MALLORY))
        refused = [f for k, f in events if k == 'RESULT']
        self.assertEqual(refused, [['2', 'too-many-pending-events', '-']])
        # None was dropped: all four are still there, oldest first.
        self.assertEqual(self.pending(self.app_a, MALLORY), ids)
        # Another user's copy of the app is not held back.
        _, events = self.run_task(self.app_a, 'Test.Progress', 'count=1', user=ALICE)
        self.assertTrue(self.completed(events)['success'])
        # Acknowledged, Mallory may run again.
        self.app_a.run(self.bus, 'watch', '0.2', 'ack', user=MALLORY)
        events = parse(self.app_a.run(self.bus, 'run', tid, BAND, 'count=1', 0, user=MALLORY))
        self.assertTrue(self.completed(events)['success'])


class BoundedStoreTest(RuntimeBase):
    config = (RuntimeBase.config +
              '[Service]\nHistoryMaxPerApp=10\nMaxPendingEvents=1000\n')

    def test_request_storm_keeps_database_small(self):
        runs = 150
        tid = self.register(self.app_a, 'Test.Progress', user=MALLORY)
        for _ in range(runs):
            events = parse(self.app_a.run(self.bus, 'run', tid, BAND, 'count=1', 0, 'ack',
                                          user=MALLORY))
            self.assertTrue(self.completed(events)['success'])
        db = sqlite3.connect(os.path.join(self.devbgd.state_dir, 'devbg.db'))
        history = db.execute('SELECT count(*) FROM history').fetchone()[0]
        events = db.execute('SELECT count(*) FROM events').fetchone()[0]
        db.close()
        self.assertEqual(history, 10)
        self.assertEqual(events, 0)
        size = sum(os.path.getsize(os.path.join(self.devbgd.state_dir, f))
                   for f in os.listdir(self.devbgd.state_dir))
        print('# %d runs: %d history rows, %d events, database %d KiB' % (
            runs, history, events, size // 1024))
        # The write-ahead log included (devbgd caps it at 1 MiB after a
        # checkpoint): without it this was 4.2 MiB.
        self.assertLess(size, 2 * 1024 * 1024)


class SmallBusLimitTest(RuntimeBase):
    """A bus whose messages may be at most 128 KiB: a reply over it would
    cost devbgd its connection (and, before paging, the service). Its
    packed pages are bounded by [Service] MaxReplyBytes, set below the
    bus's limit as the admin of such a bus must."""
    bus_config = '<limit name="max_message_size">131072</limit>\n'
    config = RuntimeBase.config + '[Service]\nMaxPendingEvents=1000\nMaxReplyBytes=65536\n'

    def test_large_lists_are_paged(self):
        # 60 failed runs whose errors are 4000 bytes each: 240 KB of events
        # and history, for one app of one user.
        tid = self.register(self.app_a, 'Test.Fail', user=MALLORY)
        # Each a different text: a repeat of the entry above would be sent
        # as a repeat mark, two bytes.
        messages = ['%02d' % i + 'e' * 3998 for i in range(60)]
        for message in messages:
            events = parse(self.app_a.run(self.bus, 'run', tid, BAND, 'message=' + message, 0,
                                          user=MALLORY))
            self.assertFalse(self.completed(events)['success'])
        # All 60 pending events arrive, over pages of at most 64 KiB.
        pages = self.app_a.ok(self.bus, 'events-pages', user=MALLORY)
        self.assertGreater(len([l for l in pages if l.startswith('PAGE')]), 3, pages)
        pending = self.app_a.run(self.bus, 'watch', '0.5', user=MALLORY)
        self.assertEqual(len([l for l in pending if l.startswith('PENDING')]), 60)
        # The most History entries a page may hold, asked for by the app and
        # by root: pages of 64 KiB, all 60 entries.
        lines = self.app_a.ok(self.bus, 'history-pages', '100000', user=MALLORY)
        self.assertGreater(len([l for l in lines if l.startswith('PAGE')]), 3, lines)
        out = subprocess.run([DEVBGCTL, 'history', '10000'],
                             env=self.bus.env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(all(out.stdout.count(m) == 1 for m in messages))
        # A forged continuation is refused by name.
        name, _ = self.app_a.error(self.bus, 'call', 'History', '(uint32 0, "x1")', user=MALLORY)
        self.assertEqual(name, ERR + 'InvalidArgument')
        self.assertTrue(self.devbgd.owns_name())


class BusLossTest(RuntimeBase):
    def test_exits_with_failure_when_the_bus_goes(self):
        # Exiting with a failure is what has systemd restart it
        # (Restart=on-failure in devbgd.service); its task is ended first.
        proc, _, iid = self.start_background(self.app_a, 'Test.Idle', user=MALLORY)
        self.bus.proc.kill()
        self.bus.proc.wait(10)
        rc = self.devbgd.proc.wait(20)
        self.devbgd.proc = None
        self.assertEqual(rc, 1)
        self.assertIn('lost the bus connection', self.devbgd.read_log())
        proc.kill()
        db_path = os.path.join(self.devbgd.state_dir, 'devbg.db')
        db = sqlite3.connect(db_path)
        self.assertEqual(db.execute('SELECT count(*) FROM instances').fetchone()[0], 0)
        db.close()
        # Its completion is stored (the simulator, on the same bus, may
        # have gone first: then the device went with it).
        self.assertIn(event_fields(db_path, iid)[5], ('terminating', 'condition-loss'))
        # The test's own teardown stops a bus that is gone.
        self.bus.stop = lambda: None


class LeakTest(RuntimeBase):
    """Thousands of calls of every method, allowed and refused, leave
    devbgd's memory where it was (each call used to keep its message)."""

    CALLS = [
        ('GetStatus', '()', None),
        ('Register', '("@BIG@", "Test.Progress", "use")', 1024 * 1024),
        ('Register', '("x", "Test.Nope", "use")', None),
        ('ListRegistrations', '("",)', None),
        ('ListRegistrations', '("bogus",)', None),
        ('Unregister', '("00000000-0000-4000-8000-000000000000", false)', None),
        ('Unregister', '("not-a-uuid", false)', None),
        ('Request', '("00000000-0000-4000-8000-000000000000", "%s", "", uint32 0)' % BAND, None),
        ('Request', '("not-a-uuid", "@BIG@", "", uint32 0)', 256 * 1024),
        ('WatchEvents', '()', None),
        ('ListEvents', '("",)', None),
        ('AcknowledgeEvents', '(["00000000-0000-4000-8000-000000000000"],)', None),
        ('Detach', '("00000000-0000-4000-8000-000000000000",)', None),
        ('Cancel', '("00000000-0000-4000-8000-000000000000",)', None),
        ('ListTasks', '()', None),
        ('History', '(uint32 0, "")', None),
        ('ListPermissions', '("",)', None),
        ('ListPermissions', '("bogus",)', None),
        ('Devices.ListDevices', '("",)', None),
        ('Devices.ListDevices', '("@BIG@",)', 2048),
        ('NoSuchMethod', '()', None),
    ]

    def storm(self, n):
        for method, args, big in self.CALLS:
            extra = [str(big)] if big else []
            count = max(1, n // 10) if big else n
            out = self.app_a.ok(self.bus, 'repeat', count, method, args, *extra, user=MALLORY)
            self.assertEqual(sum(map(int, out[0].split()[1:])), count, method)

    def test_calls_do_not_grow_memory(self):
        pid = self.devbgd.proc.pid
        # Real requests too, allowed and refused.
        tid = self.register(self.app_a, 'Test.Progress', user=MALLORY)
        for _ in range(20):
            events = parse(self.app_a.run(self.bus, 'run', tid, BAND, 'count=1', 0, 'ack',
                                          user=MALLORY))
            self.assertTrue(self.completed(events)['success'])
        self.storm(200)  # warm up: caches, the allocator's arenas
        before = rss_kib(pid)
        self.storm(1000)
        after = rss_kib(pid)
        print('# devbgd RSS %d KiB before, %d KiB after %d more calls' % (
            before, after, 1000 * len(self.CALLS)))
        self.assertTrue(self.devbgd.owns_name())
        if sanitized(pid):
            self.skipTest('RSS is meaningless under AddressSanitizer; LeakSanitizer checks')
        # 100 leaked 1 MiB messages alone would be 100 MiB.
        self.assertLess(after - before, 8 * 1024)


if __name__ == '__main__':
    unittest.main()
