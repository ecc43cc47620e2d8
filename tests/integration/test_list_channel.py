#!/usr/bin/python3
# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""List channels (OpenListChannel) against the real devbgd: a channel
serves History and ListPermissions byte for byte as the bus does, for its
opener's user only, and nothing else; a user has at most
DEVBG_MAX_LIST_CHANNELS; a channel closes when its opener leaves the bus;
a caller that sends calls and reads no reply holds one reply in devbgd,
not one per call, until devbgd closes its channel; libdevbg lists on one.

The clients are tests/integration/list_channel_client.py, run as the
user under test."""

import json
import os
import sqlite3
import subprocess
import time
import uuid

from devbgtest import (DevbgTestCase, TestApp, insert_history, manifest_xml, rss_kib,
                       sanitized)

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, 'list_channel_client.py')
APP = 'org.example.Channel'
HOST = '/usr/libexec/devbg-test/tasks'
ERR = 'org.devbg.Devbg1.Error.'
ALICE = 1        # "daemon"
MALLORY = 65534  # "nobody"
MAX_CHANNELS = 4  # DEVBG_MAX_LIST_CHANNELS


class ListChannelTest(DevbgTestCase):
    config = '[Service]\nHistoryMaxPerApp=100000\n'
    MINE = 5000  # Mallory's entries: two pages of 4096 and more

    def setUp(self):
        super().setUp()
        self.app = TestApp(self.tmpdir, 'app')
        self.devbgd.verbose = True
        self.devbgd.write_manifest('c.xml', manifest_xml(APP, self.app.path, [
            ('C.Sync', ['deviceUse'], HOST)]))
        self.devbgd.start()
        self.devbgd.stop()
        base = 1700000000000000
        rows = []
        for i in range(self.MINE):
            for uid in ((MALLORY, ALICE) if i % 100 == 0 else (MALLORY,)):
                rows.append((str(uuid.uuid4()), str(uuid.uuid4()), APP, 'sync', 'C.Sync', 'use',
                             'band%d' % (i % 3), uid, base + i, base + i + 5, True, '', ''))
        insert_history(os.path.join(self.devbgd.state_dir, 'devbg.db'), rows)
        db = sqlite3.connect(os.path.join(self.devbgd.state_dir, 'devbg.db'))
        db.executemany('INSERT INTO consent (uid, app_id, model_id, created_us) '
                       'VALUES (?, ?, ?, ?)',
                       [(uid, APP, 'model-%05d' % i, base + i)
                        for i in range(5000) for uid in (MALLORY, ALICE)])
        db.commit()
        db.close()
        self.devbgd.start()

    def client(self, *args, user=MALLORY, timeout=30):
        cmd = ['setpriv', '--reuid=%d' % user, '--regid=%d' % user, '--clear-groups',
               '/usr/bin/python3', CLIENT, self.bus.address] + [str(a) for a in args]
        r = subprocess.run(cmd, env=self.bus.env(), capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0 or not r.stdout:
            raise AssertionError('%s: rc %d: %s' % (args, r.returncode, r.stderr))
        return json.loads(r.stdout)

    def test_serves_the_lists_as_the_bus_does(self):
        out = self.client('compare', 4096)
        # Non-empty pages with more to come: a comparison that means something.
        for what in ('history', 'permissions'):
            self.assertGreater(out[what]['bus_bytes'], 100000, what)
            self.assertNotEqual(out[what]['bus_next'], '', what)
            self.assertTrue(out[what]['equal'], what)
            self.assertTrue(out[what]['next_equal'], what)
        # Another user's: theirs, as on the bus.
        out = self.client('compare', 4096, user=ALICE)
        self.assertTrue(out['history']['equal'] and out['permissions']['equal'])
        self.assertLess(out['history']['bus_bytes'], 100000)

    def test_serves_nothing_else(self):
        out = self.client('other-method')
        self.assertEqual(out['GetStatus'], 'org.freedesktop.DBus.Error.UnknownMethod')
        self.assertEqual(out['ListTasks'], 'org.freedesktop.DBus.Error.UnknownMethod')
        self.assertEqual(out['OpenListChannel'], 'org.freedesktop.DBus.Error.UnknownMethod')
        self.assertTrue(out['History'])

    def test_a_user_has_a_bounded_number(self):
        out = self.client('open-many', MAX_CHANNELS + 2)
        self.assertEqual(out['results'], ['ok'] * MAX_CHANNELS + [ERR + 'LimitExceeded'] * 2)
        self.assertTrue(out['first_works'])
        # Those closed with their opener: the next one opens them again.
        out = self.client('open-many', MAX_CHANNELS)
        self.assertEqual(out['results'], ['ok'] * MAX_CHANNELS)

    def test_closes_when_its_opener_leaves_the_bus(self):
        out = self.client('opener-leaves')
        self.assertTrue(out['before'])
        self.assertNotEqual(out['after'], 'ok')
        self.assertTrue(out['closed'])
        self.assertIn('closed: its opener left the bus', self.devbgd.read_log())

    def test_unread_replies_are_not_kept(self):
        pid = self.devbgd.proc.pid
        # Warm up: a listing's pages and GDBus's buffers, once.
        self.client('compare', 4096)
        before = rss_kib(pid)
        proc = subprocess.Popen(['setpriv', '--reuid=%d' % MALLORY, '--regid=%d' % MALLORY,
                                 '--clear-groups', '/usr/bin/python3', CLIENT, self.bus.address,
                                 'unread', '20'], env=self.bus.env(), stdout=subprocess.PIPE,
                                text=True)
        try:
            self.assertEqual(json.loads(proc.stdout.readline()), {'sent': True})
            time.sleep(1)
            during = rss_kib(pid)
            # 20 answered pages of 4096 entries would be some 8 MiB.
            if not sanitized(pid):
                self.assertLess(during - before, 4 * 1024)
            # Another user is served meanwhile.
            t0 = time.monotonic()
            self.assertTrue(self.client('compare', 100, user=ALICE)['history']['equal'])
            self.assertLess(time.monotonic() - t0, 5)
            # devbgd gives up on the reply no one reads, and the calls behind it.
            deadline = time.monotonic() + 20
            while 'a reply was not read' not in self.devbgd.read_log():
                self.assertLess(time.monotonic(), deadline, 'the channel was never closed')
                time.sleep(0.2)
        finally:
            proc.kill()
            proc.wait()
        self.assertTrue(self.devbgd.owns_name())

    def test_answers_not_read_are_bounded(self):
        # GDBus answers Introspect, Peer and a call with wrong arguments
        # itself, unpaced, and a refusal is an answer too: each was kept
        # until read (50,000 Introspect calls not read kept 750 MiB).
        pid = self.devbgd.proc.pid
        self.client('compare', 4096)
        before = rss_kib(pid)
        proc = subprocess.Popen(['setpriv', '--reuid=%d' % MALLORY, '--regid=%d' % MALLORY,
                                 '--clear-groups', '/usr/bin/python3', CLIENT, self.bus.address,
                                 'flood', '4000'], env=self.bus.env(), stdout=subprocess.PIPE,
                                text=True)
        try:
            out = json.loads(proc.stdout.readline())
            time.sleep(1)
            if not sanitized(pid):
                self.assertLess(rss_kib(pid) - before, 8 * 1024)
            self.assertTrue(out['closed'], out)
            self.assertIn('and no reply read', self.devbgd.read_log())
            self.assertTrue(self.client('compare', 100, user=ALICE)['history']['equal'])
        finally:
            proc.kill()
            proc.wait()

    def test_a_large_message_closes_it(self):
        # GDBus allocates what a message's first 16 bytes announce (up to
        # 128 MiB) and keeps what came of it: a user's 4 channels each with
        # 100 MiB of a message unfinished held 400 MiB in devbgd.
        pid = self.devbgd.proc.pid
        self.client('compare', 4096)
        # Once the pages read ahead are dropped (2 s) and devbgd has given
        # its heap's free memory back (1 s after the last large reply).
        time.sleep(3)
        before = rss_kib(pid)
        procs = [subprocess.Popen(['setpriv', '--reuid=%d' % MALLORY, '--regid=%d' % MALLORY,
                                   '--clear-groups', '/usr/bin/python3', CLIENT,
                                   self.bus.address, 'big-message', '16'], env=self.bus.env(),
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            for proc in procs:
                out = json.loads(proc.stdout.readline())
                self.assertTrue(out['closed'], out)
                self.assertLess(out['sent_kib'], 16 * 1024)
            if not sanitized(pid):
                self.assertLess(rss_kib(pid) - before, 4 * 1024)
            self.assertIn('bytes on a list channel (at most 65536)', self.devbgd.read_log())
            # The lists still come whole: a page's reply is no call.
            self.assertTrue(self.client('compare', 4096, user=ALICE)['history']['equal'])
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()

    def test_file_descriptors_sent_are_not_kept(self):
        # GDBus, on a socket connection, keeps the descriptors that come with
        # a message until the message is whole, whether or not the caller
        # negotiated them: one unfinished message carrying thousands filled
        # devbgd's table, and every user's calls failed.
        pid = self.devbgd.proc.pid
        before = len(os.listdir('/proc/%d/fd' % pid))
        proc = subprocess.Popen(['setpriv', '--reuid=%d' % MALLORY, '--regid=%d' % MALLORY,
                                 '--clear-groups', '/usr/bin/python3', CLIENT, self.bus.address,
                                 'fd-flood', '40'], env=self.bus.env(), stdout=subprocess.PIPE,
                                text=True)
        try:
            self.assertEqual(json.loads(proc.stdout.readline()), {'sent': 10000})
            time.sleep(0.5)
            self.assertLess(len(os.listdir('/proc/%d/fd' % pid)), before + 8)
            self.assertTrue(self.client('compare', 100, user=ALICE)['history']['equal'])
        finally:
            proc.kill()
            proc.wait()

    def test_libdevbg_lists_on_a_channel(self):
        lines = self.app.ok(self.bus, 'history', 4096, user=MALLORY)
        self.assertEqual(lines[0], 'OK 2 %d' % self.MINE)
        log = self.devbgd.read_log()
        self.assertIn('History from :list-channel-', log)
        self.assertRegex(log, r'list channel :list-channel-\d+ opened for :[0-9.]+ '
                              r'\(uid %d, app %s\)' % (MALLORY, APP))


if __name__ == '__main__':
    import unittest
    unittest.main()
