# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""devbgd under journald, as installed (no --verbose): a caller's calls do
not write to the journal. Every call logs a debug line, and GLib hands
every message to devbgd's writer: written, they let any user fill
journald's quota for devbgd (10,000 lines in 30 s) at the rate it calls,
and devbgd's lines about everyone else were then dropped (found by a
hostile-user review: 2,000 calls, 2,001 journal lines). Informational
lines are written all the same."""
import json
import os
import subprocess
import unittest

from devbgtest import BUILD_DIR, SOURCE_DIR

PROBE = os.path.join(SOURCE_DIR, 'tests', 'integration', 'journal_probe.py')


class JournalTest(unittest.TestCase):
    def test_calls_write_no_debug_lines_to_the_journal(self):
        if os.geteuid() != 0:
            self.skipTest('needs root for a mount namespace')
        env = dict(os.environ, DEVBG_BUILD_DIR=BUILD_DIR,
                   PYTHONPATH=os.path.dirname(PROBE))
        r = subprocess.run(['/usr/bin/python3', PROBE, '500'], env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        counts = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(counts['calls'].get('7', 0), 0, counts)
        self.assertLess(sum(counts['calls'].values()), 10, counts)
        # What an administrator reads is there without --verbose: devbgd's
        # informational lines at its start (its cgroups, its devices).
        self.assertGreater(counts['start'].get('6', 0), 0, counts)
        self.assertEqual(counts['start'].get('7', 0), 0, counts)


if __name__ == '__main__':
    unittest.main()
