#!/usr/bin/python3
# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""History against the real devbgd (issue 12): packed pages of whole
13-field records, at most DEVBG_HISTORY_PAGE_MAX_ENTRIES entries and
DEVBG_PACKED_PAGE_MAX_BYTES bytes each, newest first; a history longer
than a page comes back whole and in order through the continuation, to
an app (its user's entries of itself) and to root (all), by libdevbg.

The history is seeded straight into devbgd's database (between two
starts) rather than run task by task: thousands of real runs would take
minutes."""

import json
import os
import sqlite3
import unittest
import uuid

from gi.repository import GLib

from devbgtest import (DevbgTestCase, TestApp, insert_history, manifest_xml, rss_kib,
                       sanitized, unpack_records)

APP = 'org.example.History'
OTHER = 'org.example.Other'
HOST = '/usr/libexec/devbg-test/tasks'
ERR = 'org.devbg.Devbg1.Error.'
ALICE = 1        # "daemon"
MALLORY = 65534  # "nobody"
PAGE_MAX_ENTRIES = 4096         # DEVBG_HISTORY_PAGE_MAX_ENTRIES
PAGE_MAX_BYTES = 1024 * 1024    # DEVBG_PACKED_PAGE_MAX_BYTES
FIELDS = 13                     # DEVBG_HISTORY_FIELDS


def seed(state_dir, rows):
    """Appends @rows ((app_id, uid, error) each) to devbgd's history, oldest
    first; returns their instance IDs in that order."""
    ids, values = [], []
    base = 1700000000000000
    for i, (app, uid, error) in enumerate(rows):
        ids.append(str(uuid.uuid4()))
        values.append((ids[-1], str(uuid.uuid4()), app, 'sync-%d' % i, 'H.Sync', 'use',
                       'band%d' % (i % 3), uid, base + i * 1000, base + i * 1000 + 500,
                       not error, error, 'abort' if error else ''))
    insert_history(os.path.join(state_dir, 'devbg.db'), values)
    return ids


class HistoryBase(DevbgTestCase):
    config = '[Service]\nHistoryMaxPerApp=100000\n'

    def setUp(self):
        super().setUp()
        self.app = TestApp(self.tmpdir, 'app')
        self.devbgd.write_manifest('h.xml', manifest_xml(APP, self.app.path, [
            ('H.Sync', ['deviceUse'], HOST)]))
        # Once to create the database, then seeded and started again.
        self.devbgd.start()
        self.devbgd.stop()

    def history(self, limit, user=MALLORY):
        """Every page through libdevbg: [(entries, continuation)], [entry]."""
        lines = self.app.ok(self.bus, 'history', limit, user=user)
        pages = [(int(l.split()[1]), l.split()[2]) for l in lines if l.startswith('PAGE ')]
        entries = [l.split(' ', 6) for l in lines[1 + len(pages):]]
        self.assertEqual(lines[0], 'OK %d %d' % (len(pages), len(entries)))
        return pages, entries

    def raw_pages(self, limit, user=MALLORY):
        """Every page as the bus carries it: [(bytes, records, continuation)]."""
        lines = self.app.ok(self.bus, 'history-pages', limit, user=user)
        return [(int(l.split()[1]), int(l.split()[2]), l.split()[3])
                for l in lines if l.startswith('PAGE ')]


class HistoryPagesTest(HistoryBase):
    MINE = PAGE_MAX_ENTRIES + 150  # a full page and a bit more

    def setUp(self):
        super().setUp()
        # Mallory's entries of the app, among Alice's and another app's.
        rows = []
        for i in range(self.MINE):
            rows.append((APP, MALLORY, '' if i % 7 else 'failed %d' % i))
            if i % 1000 == 0:
                rows += [(APP, ALICE, ''), (OTHER, MALLORY, '')]
        self.ids = seed(self.devbgd.state_dir, rows)
        self.mine = [iid for iid, row in zip(self.ids, rows) if row[:2] == (APP, MALLORY)]
        self.rows = rows
        self.devbgd.start()

    def test_app_lists_its_history_whole_in_order(self):
        # limit 0: pages of 100, newest first, through the continuation.
        pages, entries = self.history(0)
        self.assertEqual([n for n, _ in pages], [100] * (self.MINE // 100) + [self.MINE % 100])
        self.assertTrue(all(c != '-' for _, c in pages[:-1]))
        self.assertEqual(pages[-1][1], '-')
        self.assertEqual([e[0] for e in entries], self.mine[::-1])
        # Its user's entries of itself only, every field as stored.
        self.assertTrue(all(e[1:3] == [APP, str(MALLORY)] for e in entries))
        failed = [e for e in entries if e[4] == '0']
        self.assertEqual(len(failed), len([r for r in self.rows
                                           if r[:2] == (APP, MALLORY) and r[2]]))
        self.assertTrue(all(e[5] == 'abort' and e[6].startswith('failed ') for e in failed))
        self.assertTrue(all(e[5:] == ['-', '-'] for e in entries if e[4] == '1'))

        # A large limit: DEVBG_HISTORY_PAGE_MAX_ENTRIES a page, the same list.
        pages, again = self.history(100000)
        self.assertEqual([n for n, _ in pages], [PAGE_MAX_ENTRIES, self.MINE - PAGE_MAX_ENTRIES])
        self.assertEqual(again, entries)

    def test_pages_on_the_bus(self):
        pages = self.raw_pages(0)
        self.assertEqual(pages[0][1], 100)
        pages = self.raw_pages(100000)
        self.assertEqual([r for _, r, _ in pages], [PAGE_MAX_ENTRIES, self.MINE - PAGE_MAX_ENTRIES])
        self.assertTrue(all(size <= PAGE_MAX_BYTES for size, _, _ in pages))

    def test_repeats_are_marked_on_the_bus(self):
        # A field equal to the one above it (the app ID, the entry point,
        # the trigger, the uid here) crosses the bus as the byte 0xFF; the
        # interface file's recipe reads it back.
        out = self.app.ok(self.bus, 'call', 'History', '(uint32 200, "")', user=MALLORY)[0]
        page, _ = GLib.Variant.parse(GLib.VariantType('(ays)'), out[len('OK '):],
                                     None, None).unpack()
        raw, records = unpack_records(page, FIELDS)
        self.assertEqual(len(records), 200)
        self.assertNotIn(b'\xff', raw[:FIELDS])
        for r in range(1, 200):
            self.assertEqual([raw[r * FIELDS + f] for f in (2, 4, 5, 7)], [b'\xff'] * 4)
        self.assertEqual([r[0].decode() for r in records], self.mine[::-1][:200])
        self.assertTrue(all(r[2] == APP.encode() and r[4] == b'H.Sync' and r[5] == b'use' and
                            r[7] == str(MALLORY).encode() for r in records))
        # Fields unlike the one above are sent whole, however short.
        self.assertTrue(all(raw[r * FIELDS + 10] in (b'0', b'1') for r in range(200)))

    def test_other_user_of_the_app_sees_only_theirs(self):
        pages, entries = self.history(0, user=ALICE)
        alice = [iid for iid, row in zip(self.ids, self.rows) if row[:2] == (APP, ALICE)]
        self.assertEqual([e[0] for e in entries], alice[::-1])
        self.assertEqual(len(pages), 1)

    def test_root_sees_every_entry(self):
        # devbgctl (libdevbg) as root, not an app: all, newest first.
        out = self.devbgctl('--json', 'history', '10000').stdout
        listed = [e['instance-id'] for e in json.loads(out)]
        self.assertEqual(listed, self.ids[::-1])

    def test_continuation_not_given_by_devbgd(self):
        for bad in ('x', 'x1', '-1', '0', '99999999999999999999', ' 5'):
            name, _ = self.app.error(self.bus, 'call', 'History', '(uint32 0, "%s")' % bad,
                                     user=MALLORY)
            self.assertEqual(name, ERR + 'InvalidArgument')
        self.assertTrue(self.devbgd.owns_name())


class HistoryPageBytesTest(HistoryBase):
    """Entries with long error messages: a page ends at
    DEVBG_PACKED_PAGE_MAX_BYTES, with whole records, well before
    DEVBG_HISTORY_PAGE_MAX_ENTRIES; nothing is lost between pages."""
    # Above a page and its message header, below the history's 1.6 MB.
    bus_config = '<limit name="max_message_size">1200000</limit>\n'
    # Each a different text: a repeat of the entry above would be sent as
    # a repeat mark, two bytes.
    ERRORS = ['%04d' % i + 'e' * 3996 for i in range(400)]

    def setUp(self):
        super().setUp()
        self.ids = seed(self.devbgd.state_dir, [(APP, MALLORY, e) for e in self.ERRORS])
        self.devbgd.start()

    def test_page_ends_at_the_byte_bound(self):
        pages = self.raw_pages(100000)
        self.assertEqual(len(pages), 2)
        first_bytes, first_records, _ = pages[0]
        self.assertLessEqual(first_bytes, PAGE_MAX_BYTES)
        # As full as the bound allows: one more record would not fit.
        self.assertGreater(first_bytes + first_bytes // first_records, PAGE_MAX_BYTES)
        self.assertEqual(sum(r for _, r, _ in pages), 400)
        self.assertTrue(self.devbgd.owns_name())
        # libdevbg and devbgctl follow the pages.
        _, entries = self.history(100000)
        self.assertEqual([e[0] for e in entries], self.ids[::-1])
        self.assertEqual([e[6] for e in entries], self.ERRORS[::-1])
        out = self.devbgctl('history', '1000').stdout
        self.assertTrue(all(e in out for e in self.ERRORS))


class HistoryDamagedRowsTest(HistoryBase):
    """Rows torn after they were stored (by a disk fault, or by hand) are
    passed over and said, each time a page would hold them: the rest
    still lists, and a client never gets a page it would refuse whole."""

    def setUp(self):
        super().setUp()
        self.ids = seed(self.devbgd.state_dir, [(APP, MALLORY, '') for _ in range(6)])
        whole = sqlite3.connect(os.path.join(self.devbgd.state_dir, 'devbg.db'))
        record = whole.execute('SELECT record FROM history WHERE instance_id = ?',
                               (self.ids[0],)).fetchone()[0]
        torn = {1: record + b'extra\0',          # a 14th field
                2: record[:record.index(b'\0') + 1],  # one field
                3: record[:-1],                   # no NUL at its end
                4: b''}                           # nothing
        for i, value in torn.items():
            whole.execute('UPDATE history SET record = ? WHERE instance_id = ?',
                          (value, self.ids[i]))
        whole.commit()
        whole.close()
        self.devbgd.start()

    def test_torn_rows_passed_over_and_said(self):
        _, entries = self.history(0)
        self.assertEqual([e[0] for e in entries], [self.ids[5], self.ids[0]])
        log = self.devbgd.read_log()
        # seq is the list position: the second to fifth rows seeded.
        for seq in (2, 3, 4, 5):
            self.assertIn('history row %d is damaged (not 13 whole fields); passed over' % seq,
                          log)
        self.assertTrue(self.devbgd.owns_name())


class HistoryUnreadRepliesTest(HistoryBase):
    """A user pipelining History calls on connections that never read the
    replies: once dbus-daemon's quota for devbgd is full (devbgd's
    unread replies, small here), GDBus keeps each further reply in devbgd
    until it can write it. 120 unread 1 MiB pages grew devbgd by 240 MB
    (a hostile-user review: 2,000 calls, 2.2 GB; a user may have 32,768
    out); now a user's pages waiting in devbgd are bounded (16 MiB) and
    past that a call gets LimitExceeded."""
    bus_config = '<limit name="max_incoming_bytes">4000000</limit>\n'
    ERRORS = ['%04d' % i + 'e' * 3996 for i in range(400)]
    FLOOD = """
import os, signal, sys
from gi.repository import Gio, GLib
flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
conns = [Gio.DBusConnection.new_for_address_sync(sys.argv[1], flags, None, None) for _ in range(2)]
n = int(sys.argv[2])
got = {'ok': 0, 'limit': 0, 'other': []}
loop = GLib.MainLoop()
def done(conn, res, _):
    try:
        conn.call_finish(res)
        got['ok'] += 1
    except GLib.Error as e:
        if Gio.DBusError.get_remote_error(e) == 'org.devbg.Devbg1.Error.LimitExceeded':
            got['limit'] += 1
        else:
            got['other'].append(e.message)
    if got['ok'] + got['limit'] + len(got['other']) == n * len(conns):
        loop.quit()
for c in conns:
    for _ in range(n):
        c.call('org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager', 'History',
               GLib.Variant('(us)', (4096, '')), None, Gio.DBusCallFlags.NONE, 120000, None,
               done, None)
    c.flush_sync(None)
print('SENT', flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
loop.run()
print(got['ok'], got['limit'], got['other'], flush=True)
"""

    def setUp(self):
        super().setUp()
        seed(self.devbgd.state_dir, [(APP, MALLORY, e) for e in self.ERRORS])
        self.devbgd.start()

    def test_unread_pages_are_bounded(self):
        import signal
        import subprocess
        import time
        pid = self.devbgd.proc.pid
        self.assertEqual(self.raw_pages(4096)[0][0] > 1000000, True)
        before = rss_kib(pid) / 1024
        proc = subprocess.Popen(['setpriv', '--reuid=%d' % MALLORY, '--regid=%d' % MALLORY,
                                 '--clear-groups', '/usr/bin/python3', '-c', self.FLOOD,
                                 self.bus.address, '60'],
                                env=self.bus.env(), stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertEqual(proc.stdout.readline().strip(), 'SENT')
        peak = before
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            peak = max(peak, rss_kib(pid) / 1024)
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGCONT)
        out, _ = proc.communicate(timeout=120)
        ok, limited, other = out.split(' ', 2)
        # AddressSanitizer's quarantine keeps freed memory: RSS says
        # nothing there (LeakSanitizer checks the rest).
        if not sanitized(pid):
            self.assertLess(peak - before, 100,
                            'devbgd grew from %.0f to %.0f MiB' % (before, peak))
        self.assertEqual(other.strip(), '[]')
        self.assertGreater(int(ok), 0)
        self.assertGreater(int(limited), 0)
        # Read, the pages are no longer counted: the next call is answered.
        self.assertGreater(self.raw_pages(4096)[0][0], 1000000)

    def test_large_pages_that_never_stop_do_not_postpone_the_trim(self):
        """devbgd keeps freed pages in its heap while large replies go on,
        and trims it a second after the last (HEAP_TRIM_DELAY_MS); a caller
        asking for one large page every 0.8 s held devbgd at its high-water
        mark (46 MiB against 16 after a trim, in the review) for as long
        as it went on. The trim now waits at most 5 s after the first."""
        import time
        from gi.repository import Gio
        conn = Gio.DBusConnection.new_for_address_sync(
            self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        time.sleep(1.5)
        start = len(self.devbgd.read_log())
        end = time.monotonic() + 7.5
        while time.monotonic() < end:
            conn.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager',
                           'History', GLib.Variant('(us)', (4096, '')), None,
                           Gio.DBusCallFlags.NONE, 30000, None)
            time.sleep(0.5)
        # Before the calls stopped: not the trim a second after the last.
        self.assertIn("giving the heap's free memory back", self.devbgd.read_log()[start:])


class HistoryTurnsTest(HistoryBase):
    """List calls on the bus are served users in turn (src/daemon/
    devbg-fair-queue.c): one user's burst of History calls (each a page of
    1 MiB to pack and send) no longer makes another user's call wait for
    all of them (a hostile-user review: 64 connections of 32 calls made
    another user's History wait 15 s). Ordered by the times the replies
    came (CLOCK_MONOTONIC, the same in both processes), not by a duration."""
    ERRORS = ['%04d' % i + 'e' * 3996 for i in range(400)]
    BURST = """
import json, sys, time
from gi.repository import Gio, GLib
flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
conns = [Gio.DBusConnection.new_for_address_sync(sys.argv[1], flags, None, None) for _ in range(4)]
n = int(sys.argv[2])
times, errors = [], []
loop = GLib.MainLoop()
def done(conn, res, _):
    try:
        conn.call_finish(res)
        times.append(time.monotonic())
    except GLib.Error as e:
        errors.append(e.message)
    if len(times) + len(errors) == n * len(conns):
        loop.quit()
for c in conns:
    for _ in range(n):
        c.call('org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager', 'History',
               GLib.Variant('(us)', (4096, '')), None, Gio.DBusCallFlags.NONE, 120000, None,
               done, None)
    c.flush_sync(None)
print('SENT', flush=True)
loop.run()
print(json.dumps({'times': times, 'errors': errors}), flush=True)
"""
    ONE = """
import sys, time
from gi.repository import Gio, GLib
conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)
print('READY', flush=True)
sys.stdin.readline()
conn.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager', 'History',
               GLib.Variant('(us)', (10, '')), None, Gio.DBusCallFlags.NONE, 120000, None)
print(time.monotonic(), flush=True)
"""

    def setUp(self):
        super().setUp()
        seed(self.devbgd.state_dir, [(APP, MALLORY, e) for e in self.ERRORS] +
             [(APP, ALICE, '')] * 5)
        self.devbgd.start()

    def as_user(self, user, program, *args, **kw):
        import subprocess
        return subprocess.Popen(['setpriv', '--reuid=%d' % user, '--regid=%d' % user,
                                 '--clear-groups', '/usr/bin/python3', '-c', program,
                                 self.bus.address] + [str(a) for a in args],
                                env=self.bus.env(), stdout=subprocess.PIPE,
                                stdin=subprocess.PIPE, text=True, **kw)

    def test_another_users_call_is_not_served_last(self):
        alice = self.as_user(ALICE, self.ONE)
        self.addCleanup(lambda: alice.poll() is None and alice.kill())
        self.assertEqual(alice.stdout.readline().strip(), 'READY')
        mallory = self.as_user(MALLORY, self.BURST, 8)  # 32 calls, all let wait
        self.addCleanup(lambda: mallory.poll() is None and mallory.kill())
        self.assertEqual(mallory.stdout.readline().strip(), 'SENT')
        alice.stdin.write('go\n')
        alice.stdin.flush()
        alice_done = float(alice.stdout.readline())
        burst = json.loads(mallory.communicate(timeout=120)[0])
        self.assertEqual(burst['errors'], [])
        self.assertEqual(len(burst['times']), 32)
        after = sum(t > alice_done for t in burst['times'])
        # In the order they came, Alice's would be answered after all 32 (or
        # the few not yet answered when hers came); in turn, after one more.
        self.assertGreaterEqual(after, 8, 'only %d of 32 answered after the other user\'s' % after)


if __name__ == '__main__':
    unittest.main()
