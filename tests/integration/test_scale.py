#!/usr/bin/python3
# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Lists at scale against the real devbgd: ListRegistrations sends packed
pages of whole records, at most DEVBG_PACKED_PAGE_MAX_BYTES each, and a
list longer than a page comes back whole, in order, through the
continuation; libdevbg decodes the same pages."""

import unittest

from devbgtest import DevbgTestCase, TestApp, manifest_xml

APP = 'org.example.Scale'
HOST = '/usr/libexec/devbg-test/tasks'
PAGE_MAX_BYTES = 1024 * 1024  # DEVBG_PACKED_PAGE_MAX_BYTES
NAME_BYTES = 255               # DEVBG_MAX_NAME: the longest records there are
# A record: task ID (36), name, entry point "S.Sync" (6), "use" (3), 4 NULs.
RECORD_BYTES = 36 + NAME_BYTES + 6 + 3 + 4
COUNT = PAGE_MAX_BYTES // RECORD_BYTES + 100  # a page and a bit more


class ScaleListTest(DevbgTestCase):
    config = '[Service]\nMaxRegistrationsPerApp=%d\n' % (COUNT + 10)

    def setUp(self):
        super().setUp()
        self.app = TestApp(self.tmpdir, 'app')
        self.devbgd.write_manifest('s.xml', manifest_xml(APP, self.app.path, [
            ('S.Sync', ['deviceUse'], HOST)]))
        self.devbgd.start()

    def test_long_list_in_whole_pages(self):
        out = self.app.ok(self.bus, 'repeat', str(COUNT), 'Register',
                          '("@BIG@", "S.Sync", "use")', str(NAME_BYTES))
        self.assertEqual(out[0], 'OK %d 0' % COUNT)

        lines = self.app.ok(self.bus, 'list-pages')
        pages = [l.split() for l in lines if l.startswith('PAGE ')]
        self.assertEqual(lines[0], 'OK 2')
        self.assertEqual(len(pages), 2)
        # Whole records only, each page within the bound, the first as full
        # as the bound allows.
        for _, size, records, _ in pages:
            self.assertLessEqual(int(size), PAGE_MAX_BYTES)
            self.assertEqual(int(size), int(records) * RECORD_BYTES)
        self.assertGreater(int(pages[0][1]) + RECORD_BYTES, PAGE_MAX_BYTES)
        self.assertNotEqual(pages[0][3], '-')
        self.assertEqual(pages[1][3], '-')
        self.assertEqual(sum(int(p[2]) for p in pages), COUNT)

        # libdevbg reads every one, each once.
        listed = self.app.ok(self.bus, 'list')
        self.assertEqual(listed[0], 'OK %d' % COUNT)
        ids = [l.split()[0] for l in listed[1:]]
        self.assertEqual(len(set(ids)), COUNT)
        self.assertTrue(all(l.split()[1:3] == ['use', 'S.Sync'] for l in listed[1:]))
        self.assertTrue(all(l.split()[3] == 'x' * NAME_BYTES for l in listed[1:]))

    def test_continuation_not_given_by_devbgd(self):
        for bad in ('x', '-1', '0', '99999999999999999999'):
            name, _ = self.app.error(self.bus, 'call', 'ListRegistrations', '("%s",)' % bad)
            self.assertEqual(name, 'org.devbg.Devbg1.Error.InvalidArgument')


if __name__ == '__main__':
    unittest.main()
