#!/usr/bin/python3
# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ListPermissions in packed pages (issue 12), against the real devbgd: a
user's thousands of stored consents come whole and in order over pages of
at most DEVBG_PERMISSIONS_PAGE_MAX_ENTRIES records of 4 fields, to root
(every user's), to a user (theirs) and to an app (its user's of itself),
through libdevbg (devbgctl) and on the bus; a continuation devbgd did not
give is refused by name.

The consents are seeded straight into devbgd's database (between two
starts): thousands given through the consent agent would take minutes."""

import json
import os
import sqlite3

from gi.repository import GLib

from devbgtest import DevbgTestCase, TestApp, manifest_xml, unpack_records

APP = 'org.example.Consented'
OTHER = 'org.example.Other'
HOST = '/usr/libexec/devbg-test/tasks'
ERR = 'org.devbg.Devbg1.Error.'
ALICE = 1        # "daemon"
MALLORY = 65534  # "nobody"
PAGE_MAX_ENTRIES = 4096  # DEVBG_PERMISSIONS_PAGE_MAX_ENTRIES
FIELDS = 4               # DEVBG_PERMISSION_FIELDS
BASE_US = 1700000000000000


class PermissionsPagesTest(DevbgTestCase):
    MINE = PAGE_MAX_ENTRIES + 150  # Mallory's consents for the app

    def setUp(self):
        super().setUp()
        self.app = TestApp(self.tmpdir, 'app')
        self.devbgd.write_manifest('p.xml', manifest_xml(APP, self.app.path, [
            ('P.Sync', ['deviceUse'], HOST)]))
        # Once to create the database, then seeded and started again.
        self.devbgd.start()
        self.devbgd.stop()
        rows = []
        for i in range(self.MINE):
            rows.append((MALLORY, APP, 'model-%05d' % i if i else '', BASE_US + len(rows)))
            if i % 1000 == 0:
                rows.append((ALICE, APP, 'model-%05d' % i, BASE_US + len(rows)))
                rows.append((MALLORY, OTHER, 'model-%05d' % i, BASE_US + len(rows)))
        db = sqlite3.connect(os.path.join(self.devbgd.state_dir, 'devbg.db'))
        db.executemany('INSERT INTO consent (uid, app_id, model_id, created_us) '
                       'VALUES (?, ?, ?, ?)', rows)
        db.commit()
        db.close()
        self.rows = rows
        self.devbgd.start()

    def listed(self, user=None):
        return [(p['uid'], p['app-id'], p['model-id'], p['created-us'])
                for p in json.loads(self.devbgctl('--json', 'permissions', user=user).stdout)]

    def test_root_and_a_user_list_theirs_whole_in_order(self):
        self.assertEqual(self.listed(), self.rows)
        self.assertEqual(self.listed(user=MALLORY), [r for r in self.rows if r[0] == MALLORY])
        self.assertEqual(self.listed(user=ALICE), [r for r in self.rows if r[0] == ALICE])

    def raw_page(self, continuation, user=MALLORY):
        out = self.app.ok(self.bus, 'call', 'ListPermissions', '("%s",)' % continuation,
                          user=user)[0]
        page, following = GLib.Variant.parse(GLib.VariantType('(ays)'), out[len('OK '):],
                                             None, None).unpack()
        raw, unpacked = unpack_records(page, FIELDS)
        records = [(int(r[0]), r[1].decode(), r[2].decode(), int(r[3])) for r in unpacked]
        return raw, records, following

    def test_app_pages_on_the_bus(self):
        # The app: its user's consents of itself, over two pages; the uid
        # and the app ID repeat, and cross the bus as repeat marks.
        mine = [r for r in self.rows if r[:2] == (MALLORY, APP)]
        raw, first, following = self.raw_page('')
        self.assertEqual(len(first), PAGE_MAX_ENTRIES)
        self.assertNotEqual(following, '')
        self.assertNotIn(b'\xff', raw[:FIELDS])
        self.assertEqual(raw[FIELDS:2 * FIELDS:][:2], [b'\xff', b'\xff'])
        _, second, end = self.raw_page(following)
        self.assertEqual(end, '')
        self.assertEqual(first + second, mine)

    def test_damaged_row_passed_over(self):
        # A row whose app ID is no UTF-8 (damage from outside devbgd) is
        # passed over and said: the rest still lists.
        self.devbgd.stop()
        db = sqlite3.connect(os.path.join(self.devbgd.state_dir, 'devbg.db'))
        db.execute("INSERT INTO consent (uid, app_id, model_id, created_us) "
                   "VALUES (0, CAST(X'FFFE' AS TEXT), 'm', 1)")
        db.commit()
        db.close()
        self.devbgd.start()
        self.assertEqual(self.listed(), self.rows)
        self.assertIn('is damaged (its app or model ID is no UTF-8 text); passed over',
                      self.devbgd.read_log())

    def test_continuation_not_given_by_devbgd(self):
        for bad in ('x', 'x1', '-1', '0', '99999999999999999999', ' 5'):
            name, _ = self.app.error(self.bus, 'call', 'ListPermissions', '("%s",)' % bad,
                                     user=MALLORY)
            self.assertEqual(name, ERR + 'InvalidArgument')
        self.assertTrue(self.devbgd.owns_name())


if __name__ == '__main__':
    import unittest
    unittest.main()
