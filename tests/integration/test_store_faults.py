# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The store's real faults against the real devbgd: a full disk when a task
completes (the state directory on a small tmpfs, filled up), and a database
that SQLite reports corrupt or that is no database at all."""
import glob
import json
import os
import queue
import re
import sqlite3
import subprocess
import threading
import time
import unittest

from devbgtest import wait_for
from test_runtime import RuntimeBase, APP_A, BAND, parse


def gone(pid):
    """The process has exited (a zombie nobody reaps counts as gone)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(') ', 1)[1][0] == 'Z'
    except FileNotFoundError:
        return True


class LineReader:
    """A child's stdout, line by line, each with the monotonic time it came."""

    def __init__(self, proc):
        self.lines = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.put((time.monotonic(), line.rstrip('\n')))

    def all(self):
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return out


class StoreFaultBase(RuntimeBase):
    def running_pid(self, iid):
        for t in json.loads(self.devbgctl('--json', 'tasks').stdout):
            if t['instance-id'] == iid:
                return t['pid']
        return None

    def start_detached(self, ep='Test.Idle'):
        """A task of app A that runs on while its app is gone: (task ID,
        instance ID, pid)."""
        tid = self.register(self.app_a, ep)
        lines = self.app_a.run(self.bus, 'run', tid, BAND, '', 0, 'detach', 'exit-after-start')
        self.assertTrue(lines[0].startswith('RESULT 0 allowed'), lines)
        iid = lines[0].split()[3]
        return tid, iid, wait_for(lambda: self.running_pid(iid), what='the task pid')

    def pending(self):
        r = subprocess.run([self.app_a.path, 'watch', '0.2'], env=self.bus.env(),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return [f for k, f in parse(r.stdout.splitlines()) if k == 'PENDING']


class FullDiskTest(StoreFaultBase):
    """The state directory is a 4 MiB tmpfs: a fresh database's write-ahead
    log grows with each commit, so a commit on a full tmpfs fails for real
    (SQLITE_FULL), as on a full /var."""

    def setUp(self):
        super().setUp()
        self.devbgd.stop()
        for f in glob.glob(os.path.join(self.devbgd.state_dir, '*')):
            os.unlink(f)
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'devbg-test-state',
                            self.devbgd.state_dir], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest('cannot mount a tmpfs: ' + r.stderr.strip())
        self.mounted = True
        self.filler = os.path.join(self.devbgd.state_dir, 'filler')
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band')

    def tearDown(self):
        if self.devbgd.proc is not None:
            self.assertEqual(self.devbgd.stop(), 0, self.devbgd.read_log())
        if getattr(self, 'mounted', False):
            subprocess.run(['umount', self.devbgd.state_dir], check=True)
        super().tearDown()

    def fill_disk(self):
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            # Big blocks, then smaller ones for the last partial page.
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b'\0' * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        st = os.statvfs(self.devbgd.state_dir)
        self.assertEqual(st.f_bavail, 0)

    def listed(self):
        lines = self.app_a.ok(self.bus, 'list')
        return sorted(line.split()[0] for line in lines[1:])

    def test_register_on_full_disk_is_not_kept(self):
        """A Register whose write fails (the disk is full) is refused and
        leaves nothing behind: devbgd keeps each app's registrations in
        memory beside the table, and must not list, count or run one the
        table does not hold."""
        kept = self.register(self.app_a, 'Test.Idle')
        self.assertEqual(self.listed(), [kept])  # the app's set is read now
        self.fill_disk()
        name, line = self.app_a.error(self.bus, 'register', 'lost', 'Test.Idle', 'use')
        self.assertIn('full', line)
        self.assertEqual(self.listed(), [kept])
        os.unlink(self.filler)
        again = self.register(self.app_a, 'Test.Idle')
        self.assertEqual(self.listed(), sorted([kept, again]))
        self.assertEqual(self.devbgd.stop(), 0)
        self.devbgd.start()
        self.assertEqual(self.listed(), sorted([kept, again]))

    def test_completion_on_full_disk_is_sent_once_stored(self):
        tid, iid, pid = self.start_detached()
        # App A listens throughout, each line timed.
        watcher = subprocess.Popen([self.app_a.path, 'watch', '60'], env=self.bus.env(),
                                   stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: watcher.poll() is None and watcher.kill())
        reader = LineReader(watcher)
        time.sleep(1.0)  # its WatchEvents is in

        self.fill_disk()
        self.devbgctl('cancel', iid)
        wait_for(lambda: iid not in self.app_a.run(self.bus, 'call', 'ListTasks', '()')[0],
                 what='the task to end')
        wait_for(lambda: 'cannot store its completion' in self.devbgd.read_log(),
                 what='the failed write to be logged')
        self.assertIn('database or disk is full', self.devbgd.read_log())  # the real fault
        self.assertTrue(gone(pid) or wait_for(lambda: gone(pid), what='the task to exit'))
        time.sleep(2.5)  # a retry or two, still on a full disk
        # Nothing was sent, and nothing is pending: it is not stored.
        self.assertEqual(self.pending(), [])
        freed_at = time.monotonic()
        os.unlink(self.filler)

        # Stored at a retry, then sent: once, with the reason it ended for.
        got = wait_for(lambda: [l for l in reader.lines.queue if l[1].startswith('COMPLETED')],
                       timeout=30, what='the Completed signal after space was freed')
        time.sleep(1.5)
        lines = reader.all()
        completed = [(t, l) for t, l in lines if l.startswith('COMPLETED')]
        self.assertEqual(len(completed), 1, lines)
        self.assertGreater(completed[0][0], freed_at, 'sent before it could be stored')
        event_id, instance, success, reason, error = completed[0][1].split(' ', 5)[1:]
        self.assertEqual((instance, success, reason), (iid, '0', 'abort'))
        self.assertIn('canceled by uid 0', error)
        self.assertEqual([l for t, l in lines if not l.startswith('COMPLETED')], [])
        self.assertTrue(got)

        # The detached app that asks later gets the same event, once, with
        # the right reason; and a restart adds none.
        for restart in (False, True):
            if restart:
                self.assertEqual(self.devbgd.stop(), 0)
                self.devbgd.start()
            events = self.pending()
            self.assertEqual(len(events), 1, events)
            self.assertEqual(events[0][:5], [event_id, tid, iid, '0', 'abort'])
            self.assertIn('canceled by uid 0', events[0][5])
        self.assertNotIn('left running by a previous devbgd', self.devbgd.read_log())
        self.assertIn('stored after', self.devbgd.read_log())


class CorruptDatabaseTest(StoreFaultBase):
    """devbgd SIGKILLed with a task running, its database damaged, started
    again: it moves the file aside, names it, starts fresh and ends the
    task left running."""

    def db(self, suffix=''):
        return os.path.join(self.devbgd.state_dir, 'devbg.db' + suffix)

    def crash_with_running_task(self):
        self.register(self.app_a, 'Test.Progress')  # a registration to lose
        _, iid, pid = self.start_detached()
        self.devbgd.kill()
        os.kill(pid, 0)  # the orphan still runs
        return iid, pid

    def checkpoint(self):
        """Everything into devbg.db itself, so that damage there is seen."""
        db = sqlite3.connect(self.db())
        db.execute('PRAGMA wal_checkpoint(TRUNCATE)')
        pages = {name: root for name, root in
                 db.execute("SELECT name, rootpage FROM sqlite_master WHERE type = 'table'")}
        page_size = db.execute('PRAGMA page_size').fetchone()[0]
        db.close()
        return pages, page_size

    def assert_started_fresh(self, pid=None):
        self.devbgd.start()
        log = self.devbgd.read_log()
        m = re.search(r'the database is corrupt \((.*)\); moved it aside to (\S+) and starting '
                      r'with an empty one', log)
        self.assertIsNotNone(m, log)
        kept = m.group(2)
        self.assertEqual(os.path.dirname(kept), self.devbgd.state_dir)
        self.assertRegex(os.path.basename(kept), r'^devbg\.db\.corrupt-\d{8}T\d{6}Z$')
        self.assertTrue(os.path.isfile(kept), kept)
        self.assertTrue(os.path.isfile(self.db()))
        if pid is not None:
            wait_for(lambda: gone(pid), what='the task left running to be ended')
        # A working, empty database: the old registrations are gone, new ones work.
        self.assertEqual(self.app_a.ok(self.bus, 'list'), ['OK 0'])
        tid = self.register(self.app_a, 'Test.Progress')
        self.assertEqual(self.app_a.ok(self.bus, 'list')[0], 'OK 1')
        self.assertIn(tid, '\n'.join(self.app_a.ok(self.bus, 'list')))
        self.assertEqual(self.devbgd.stop(), 0)
        self.devbgd.start()  # and it stays good
        self.assertEqual(self.app_a.ok(self.bus, 'list')[0], 'OK 1')
        self.assertEqual(len(re.findall('the database is corrupt', self.devbgd.read_log())), 1)
        return m.group(1), kept

    def test_damaged_pages(self):
        _, pid = self.crash_with_running_task()
        pages, page_size = self.checkpoint()
        # The registrations table's page is garbage; the header and the
        # instances table are intact.
        with open(self.db(), 'r+b') as f:
            f.seek((pages['registrations'] - 1) * page_size)
            f.write(bytes(range(256)) * (page_size // 256))
        why, kept = self.assert_started_fresh(pid)
        self.assertTrue('integrity check' in why or 'malformed' in why, why)
        # What the kept copy still showed running was found and ended.
        self.assertIn('found in the corrupt database', self.devbgd.read_log())

    def test_overwritten_header(self):
        _, pid = self.crash_with_running_task()
        self.checkpoint()
        with open(self.db(), 'r+b') as f:
            f.write(b'\xa5' * 100)
        why, kept = self.assert_started_fresh(pid)
        self.assertIn('not a database', why)
        # The old header, still as it was damaged, for inspection.
        with open(kept, 'rb') as f:
            self.assertEqual(f.read(100), b'\xa5' * 100)

    def test_not_a_database(self):
        self.devbgd.stop()
        for f in glob.glob(self.db('*')):
            os.unlink(f)
        with open(self.db(), 'wb') as f:
            f.write(b'this is no SQLite database, just a text file\n' * 200)
        why, kept = self.assert_started_fresh()
        with open(kept, 'rb') as f:
            self.assertTrue(f.read().startswith(b'this is no SQLite database'))

    def test_newer_schema_is_refused_not_moved(self):
        self.devbgd.stop()
        db = sqlite3.connect(self.db())
        db.execute('PRAGMA user_version = 999')
        db.close()
        self.devbgd.start(wait=False)
        self.assertEqual(self.devbgd.proc.wait(10), 1)
        self.devbgd.proc = None
        self.devbgd.log.close()
        self.assertIn('schema version 999 is newer', self.devbgd.read_log())
        self.assertEqual(glob.glob(self.db('.corrupt*')), [])


if __name__ == '__main__':
    unittest.main()
