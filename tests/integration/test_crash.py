# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Crash safety, short: the soak of bench/soak_crash.py (one implementation,
imported from there) over about 40 task lifecycles: devbgd SIGKILLed and
restarted at random points while apps request short tasks; every allowed
request gets exactly one completion, and no task process outlives the devbgd
that started it once the next one runs. `soak_crash.py BUILD_DIR 1000` is the
full run (bench/README.md)."""
import os
import sys
import unittest

from devbgtest import SOURCE_DIR

sys.path.insert(0, os.path.join(os.path.abspath(SOURCE_DIR), 'bench'))
import soak_crash  # noqa: E402

LIFECYCLES = 40


class CrashTest(unittest.TestCase):
    def test_kill_devbgd_at_random_points(self):
        notes = []
        v, why = soak_crash.run_soak(LIFECYCLES, log=notes.append)
        summary = soak_crash.summary(v) + '\n' + soak_crash.details(v)
        self.assertFalse(soak_crash.failed(v), summary + '\n' + why + '\n' + '\n'.join(notes))
        # The soak did what it is for: tasks were allowed and devbgd was killed.
        self.assertEqual(v['lifecycles'], LIFECYCLES, summary)
        self.assertGreater(v['kills'], 0, summary)
        self.assertGreater(v['allowed'], 0, summary)


if __name__ == '__main__':
    unittest.main()
