#!/usr/bin/python3
# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An app's pending completion events against the real devbgd (issue 12):
WatchEvents and ListEvents answer packed pages of whole 7-field records,
at most DEVBG_EVENTS_PAGE_MAX_ENTRIES events and DEVBG_PACKED_PAGE_MAX_BYTES
bytes each, oldest first; a list longer than a page comes back whole and
in order through the continuation, to the app of the user they belong to
only, and libdevbg delivers every one to its registration's handler and
acknowledges it.

The events are seeded straight into devbgd's database (between two
starts) rather than run task by task: thousands of real runs would take
minutes."""

import collections
import os
import unittest
import uuid

from gi.repository import GLib
from devbgtest import DevbgTestCase, TestApp, insert_events, manifest_xml

APP = 'org.example.Events'
OTHER = 'org.example.Other'
HOST = '/usr/libexec/devbg-test/tasks'
ERR = 'org.devbg.Devbg1.Error.'
ALICE = 1        # "daemon"
MALLORY = 65534  # "nobody"
PAGE_MAX_ENTRIES = 4096         # DEVBG_EVENTS_PAGE_MAX_ENTRIES
PAGE_MAX_BYTES = 1024 * 1024    # DEVBG_PACKED_PAGE_MAX_BYTES
BASE_US = 1700000000000000


def seed(state_dir, rows):
    """Appends @rows ((app_id, uid, task_id, error) each) to devbgd's
    pending events, oldest first; returns their event IDs in that order and
    the instance ID of each."""
    ids, instances, values = [], {}, []
    for i, (app, uid, task, error) in enumerate(rows):
        ids.append(str(uuid.uuid4()))
        instances[ids[-1]] = str(uuid.uuid4())
        values.append((uid, app, (ids[-1], task, instances[ids[-1]], not error, error,
                                  'condition-loss' if error else '', BASE_US + i)))
    insert_events(os.path.join(state_dir, 'devbg.db'), values)
    return ids, instances


class EventsBase(DevbgTestCase):
    # Requests are refused at the cap, never events dropped: above the
    # seeded count all the same, as a deployment that lets them pile up.
    config = '[Service]\nMaxPendingEvents=100000\n'

    def setUp(self):
        super().setUp()
        self.app = TestApp(self.tmpdir, 'app')
        self.other = TestApp(self.tmpdir, 'other')
        self.devbgd.write_manifest('e.xml', manifest_xml(APP, self.app.path, [
            ('E.Sync', ['deviceUse'], HOST)]))
        self.devbgd.write_manifest('o.xml', manifest_xml(OTHER, self.other.path, [
            ('E.Sync', ['deviceUse'], HOST)]))
        # Once to create the database (and the registrations the events
        # are of), then seeded and started again.
        self.devbgd.start()
        self.tasks = [self.register('sync-%d' % i) for i in range(2)]
        self.devbgd.stop()

    def register(self, name, app=None, user=MALLORY):
        out = (app or self.app).ok(self.bus, 'register', name, 'E.Sync', 'use', user=user)
        return out[0].split()[1]

    def pages(self, app=None, user=MALLORY, ack=()):
        """Every page as the bus carries it, [(bytes, records, continuation)],
        and the events, [[event-id, task-id, instance-id, success,
        finished-us, cancel-reason, error]], in the order of the pages; the
        events @ack are acknowledged after the first page."""
        lines = (app or self.app).ok(self.bus, 'events-pages', *ack, user=user)
        pages = [(int(l.split()[1]), int(l.split()[2]), l.split()[3])
                 for l in lines if l.startswith('PAGE ')]
        events = [l.split(' ', 7)[1:] for l in lines if l.startswith('EVENT ')]
        self.assertEqual(lines[0], 'OK %d' % len(pages))
        self.assertEqual(sum(r for _, r, _ in pages), len(events))
        return pages, events


class EventsPagesTest(EventsBase):
    MINE = PAGE_MAX_ENTRIES + 150  # a full page and a bit more

    def setUp(self):
        super().setUp()
        # Mallory's events of the app, for its two tasks, among Alice's
        # events of the same app and Mallory's of another app.
        rows = []
        for i in range(self.MINE):
            rows.append((APP, MALLORY, self.tasks[i % 2], '' if i % 7 else 'failed %d' % i))
            if i % 1000 == 0:
                rows += [(APP, ALICE, self.tasks[0], ''), (OTHER, MALLORY, self.tasks[0], '')]
        rows.append((APP, ALICE, self.tasks[1], 'late'))
        self.ids, self.instances = seed(self.devbgd.state_dir, rows)
        self.rows = dict(zip(self.ids, rows))
        self.mine = [e for e in self.ids if self.rows[e][:2] == (APP, MALLORY)]
        self.devbgd.start()

    def test_app_gets_its_events_whole_in_order(self):
        pages, events = self.pages()
        self.assertEqual([r for _, r, _ in pages], [PAGE_MAX_ENTRIES, self.MINE - PAGE_MAX_ENTRIES])
        self.assertNotEqual(pages[0][2], '-')
        self.assertEqual(pages[-1][2], '-')
        self.assertTrue(all(size <= PAGE_MAX_BYTES for size, _, _ in pages))
        self.assertEqual([e[0] for e in events], self.mine)
        # Every field as stored.
        for event_id, task, instance, success, finished, reason, error in events:
            app, uid, seeded_task, seeded_error = self.rows[event_id]
            self.assertEqual((task, instance, error), (seeded_task, self.instances[event_id],
                                                       seeded_error))
            self.assertEqual(success, '0' if seeded_error else '1')
            self.assertEqual(reason, 'condition-loss' if seeded_error else '-')
            self.assertEqual(int(finished), BASE_US + self.ids.index(event_id))
        # The test client's watch (WatchEvents, then ListEvents) too.
        pending = [l.split()[1] for l in self.app.run(self.bus, 'watch', '0', user=MALLORY)
                   if l.startswith('PENDING ')]
        self.assertEqual(pending, self.mine)

    def test_libdevbg_delivers_and_acknowledges_every_event(self):
        lines = self.app.ok(self.bus, 'list', user=MALLORY)
        self.assertEqual(lines[0], 'OK 2')
        lines = self.app.run(self.bus, 'lib-events', '5', user=MALLORY)
        delivered = collections.defaultdict(list)
        for line in lines:
            self.assertTrue(line.startswith('LIBCOMPLETED '), line)
            _, task, instance, outcome = line.split(' ', 3)
            delivered[task].append((instance, outcome))
        # Each task's events, each once, oldest first, with its outcome.
        for task in self.tasks:
            expected = [(self.instances[e], 'ok' if not self.rows[e][3] else
                         'error: %s' % self.rows[e][3])
                        for e in self.mine if self.rows[e][2] == task]
            self.assertEqual([i for i, _ in delivered[task]], [i for i, _ in expected])
            for (instance, outcome), (_, seeded) in zip(delivered[task], expected):
                if seeded == 'ok':
                    self.assertEqual(outcome, 'ok')
                else:
                    self.assertIn(seeded[len('error: '):], outcome)
        # libdevbg acknowledged them all (more than one AcknowledgeEvents
        # holds): none is pending any more; Alice's and the other app's are.
        self.assertEqual(self.pages(user=MALLORY)[1], [])
        alice = [e for e in self.ids if self.rows[e][:2] == (APP, ALICE)]
        self.assertEqual([e[0] for e in self.pages(user=ALICE)[1]], alice)
        other = [e for e in self.ids if self.rows[e][0] == OTHER]
        self.assertEqual([e[0] for e in self.pages(app=self.other, user=MALLORY)[1]], other)

    def test_page_read_ahead_is_not_served_after_a_change(self):
        # devbgd packs the second page while the first one is read; ten
        # of its events, acknowledged meanwhile, are not in it when asked.
        second = self.mine[PAGE_MAX_ENTRIES:PAGE_MAX_ENTRIES + 10]
        pages, events = self.pages(ack=second)
        self.assertEqual([r for _, r, _ in pages],
                         [PAGE_MAX_ENTRIES, self.MINE - PAGE_MAX_ENTRIES - len(second)])
        self.assertEqual([e[0] for e in events], [e for e in self.mine if e not in second])

    def test_other_user_and_other_app_get_only_theirs(self):
        pages, events = self.pages(user=ALICE)
        alice = [e for e in self.ids if self.rows[e][:2] == (APP, ALICE)]
        self.assertEqual([e[0] for e in events], alice)
        self.assertEqual(len(pages), 1)
        pages, events = self.pages(app=self.other, user=MALLORY)
        self.assertEqual([e[0] for e in events], [e for e in self.ids if self.rows[e][0] == OTHER])
        # The test client's watch, as Alice: hers only.
        lines = self.app.run(self.bus, 'watch', '0', user=ALICE)
        self.assertEqual([l.split()[1] for l in lines if l.startswith('PENDING ')], alice)

    def test_continuation_not_given_by_devbgd(self):
        for bad in ('x', 'x1', '-1', '0', '99999999999999999999', ' 5', '5 '):
            name, _ = self.app.error(self.bus, 'call', 'ListEvents', '("%s",)' % bad,
                                     user=MALLORY)
            self.assertEqual(name, ERR + 'InvalidArgument')
        # Mallory's continuation, used by Alice: her own events after that
        # point, none of Mallory's.
        pages, _ = self.pages(user=MALLORY)
        out = self.app.ok(self.bus, 'call', 'ListEvents', '("%s",)' % pages[0][2],
                          user=ALICE)[0]
        page, following = GLib.Variant.parse(GLib.VariantType('(ays)'), out[len('OK '):],
                                             None, None).unpack()
        fields = bytes(page).decode().split('\0')[:-1]
        after = self.ids.index(self.mine[PAGE_MAX_ENTRIES - 1])
        alice_after = [e for e in self.ids[after:] if self.rows[e][:2] == (APP, ALICE)]
        self.assertTrue(alice_after)
        self.assertEqual(fields[::7], alice_after)
        self.assertEqual(following, '')
        self.assertTrue(self.devbgd.owns_name())


class EventsPageBytesTest(EventsBase):
    """Events with long error messages: a page ends at
    DEVBG_PACKED_PAGE_MAX_BYTES, with whole records, well before
    DEVBG_EVENTS_PAGE_MAX_ENTRIES; nothing is lost between pages."""
    # Above a page and its message header, below the events' 1.6 MB.
    bus_config = '<limit name="max_message_size">1200000</limit>\n'
    # Each a different text: a repeat of the event above would be sent as
    # a repeat mark, two bytes.
    ERRORS = ['%04d' % i + 'e' * 3996 for i in range(400)]

    def setUp(self):
        super().setUp()
        self.ids, _ = seed(self.devbgd.state_dir,
                           [(APP, MALLORY, self.tasks[0], e) for e in self.ERRORS])
        self.devbgd.start()

    def test_page_ends_at_the_byte_bound(self):
        pages, events = self.pages()
        self.assertEqual(len(pages), 2)
        first_bytes, first_records, _ = pages[0]
        self.assertLessEqual(first_bytes, PAGE_MAX_BYTES)
        # As full as the bound allows: one more record would not fit.
        self.assertGreater(first_bytes + first_bytes // first_records, PAGE_MAX_BYTES)
        self.assertEqual([e[0] for e in events], self.ids)
        self.assertEqual([e[6] for e in events], self.ERRORS)
        self.assertTrue(self.devbgd.owns_name())
        # libdevbg follows the pages.
        lines = self.app.run(self.bus, 'lib-events', '3', user=MALLORY)
        self.assertEqual(len([l for l in lines if l.startswith('LIBCOMPLETED ')]), 400)


if __name__ == '__main__':
    unittest.main()
