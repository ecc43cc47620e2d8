# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a vendor trying devbg for the first time tripped over (issue 11):
`devbg-example-app --help` needed a bus, `devbg-sim ctl add` printed a raw
GVariant instead of the new device's ID."""
import os
import subprocess
import unittest

from devbgtest import DevbgTestCase, DevbgSim, BUILD_DIR, DEVBG_SIM

EXAMPLE_APP = os.path.join(BUILD_DIR, 'examples', 'devbg-example-app')
NO_BUS = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS='unix:path=/nonexistent/bus')


class NewcomerTest(DevbgTestCase):
    def test_example_app_help_needs_no_bus(self):
        r = subprocess.run([EXAMPLE_APP, '--help'], env=NO_BUS, capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('sync DEVICE_ID', r.stdout)
        self.assertEqual(r.stderr, '')

    def test_example_app_bad_command_is_usage_not_bus_error(self):
        for args in (['sync'], ['frobnicate'], ['list', 'extra']):
            r = subprocess.run([EXAMPLE_APP] + args, env=NO_BUS, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn('usage:', r.stderr)
            self.assertNotIn('bus', r.stderr)

    def test_sim_ctl_add_prints_the_id(self):
        sim = DevbgSim(self.bus, self.tmpdir).start()
        self.addCleanup(sim.stop)
        out = sim.ctl('add', 'band', 'id=b7', 'records=5')
        self.assertEqual(out, 'b7\n')
        # The ID as printed is what the other commands take.
        self.assertIn("'records-pending': <uint32 5>", sim.ctl('state', out.strip()))
        generated = sim.ctl('add', 'dock').strip()
        self.assertRegex(generated, r'^[A-Za-z0-9_.-]+$')
        sim.ctl('remove', generated)


if __name__ == '__main__':
    unittest.main()
