# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a vendor trying devbg for the first time tripped over (issue 11):
`devbg-example-app --help` needed a bus, `devbg-sim ctl add` printed a raw
GVariant instead of the new device's ID; later, `devbgctl COMMAND --help`
was taken as the command's argument (`cancel --help` asked devbgd to
cancel an instance named "--help")."""
import os
import re
import subprocess
import unittest

from devbgtest import (DevbgTestCase, DevbgSim, BUILD_DIR, SOURCE_DIR, DEVBG_SIM, DEVBGCTL,
                       DEVBGD)

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

    def test_devbgctl_command_help_needs_no_bus(self):
        commands = ('status', 'registrations', 'tasks', 'history', 'cancel', 'devices',
                    'agent', 'permissions', 'monitor')
        for command in commands:
            for args in ([command, '--help'], [command, '-h'], [command, 'revoke', '--help']):
                r = subprocess.run([DEVBGCTL] + args, env=NO_BUS, capture_output=True,
                                   text=True, timeout=30)
                self.assertEqual(r.returncode, 0, (args, r.stderr))
                self.assertIn('devbgctl [--json] %s' % command, r.stdout)
                self.assertEqual(r.stderr, '')
        r = subprocess.run([DEVBGCTL, 'permissions', '--help'], env=NO_BUS,
                           capture_output=True, text=True, timeout=30)
        self.assertIn('--uid UID', r.stdout)

    def test_devbgctl_cancel_of_no_uuid_is_usage(self):
        r = subprocess.run([DEVBGCTL, 'cancel', 'xyz'], env=NO_BUS, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("instance ID 'xyz' is not a UUID", r.stderr)

    def test_every_option_of_help_is_in_the_man_page(self):
        """Each installed program's man page names every option its
        --help prints (devbg-agent had no man page at all)."""
        programs = ((DEVBGD, [], 'devbgd.8'), (DEVBGCTL, [], 'devbgctl.1'),
                    (DEVBG_SIM, [], 'devbg-sim.1'), (DEVBG_SIM, ['ctl'], 'devbg-sim.1'),
                    (os.path.join(BUILD_DIR, 'src', 'agent', 'devbg-agent'), [],
                     'devbg-agent.1'))
        for program, args, page in programs:
            r = subprocess.run([program] + args + ['--help'], env=NO_BUS, capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 0, (program, r.stderr))
            options = set(re.findall(r'(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b', r.stdout))
            self.assertIn('--help', options)
            with open(os.path.join(SOURCE_DIR, 'docs', page)) as f:
                # roff: \- is a minus, \fB..\fR are fonts.
                man = re.sub(r'\\f[BIRP]', '', f.read()).replace('\\-', '-')
            for option in sorted(options):
                self.assertRegex(man, r'(?<![\w-])%s(?![\w-])' % re.escape(option),
                                 '%s: %s of --help is not in docs/%s' % (program, option, page))

    def test_default_config_that_is_a_dangling_symlink_is_an_error(self):
        # An administrator's review: a symlink at /etc/devbg/devbgd.conf to
        # a file that is gone was taken as no configuration, all defaults,
        # silently. Tried in a mount namespace with a tmpfs over /etc.
        if os.geteuid() != 0:
            self.skipTest('needs root for a mount namespace')
        script = ('mount -t tmpfs none /etc && mkdir /etc/devbg && '
                  'ln -s /nonexistent/devbgd.conf /etc/devbg/devbgd.conf && '
                  '"$0" --print-config; echo "rc $?"; rm /etc/devbg/devbgd.conf; '
                  '"$0" --print-config >/dev/null; echo "rc $?"')
        r = subprocess.run(['unshare', '-m', 'sh', '-c', script, DEVBGD], capture_output=True,
                           text=True, timeout=30)
        self.assertIn('rc 1\nrc 0\n', r.stdout, r.stderr)
        self.assertIn('/etc/devbg/devbgd.conf', r.stderr)


if __name__ == '__main__':
    unittest.main()
