# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libdevbg's consent agent (Devbg.ConsentAgent, Devbg.ConsentPrompt) and
stored permission calls (list_permissions, revoke_permission), used from
Python through GObject introspection (tests/integration/py_lib_agent.py)
against the real devbgd and devbg-sim's devices: a prompt carries its
fields, an answer given after the signal handler returned reaches devbgd,
an allowed use consent is listed and revoked through the library, a
withdrawn prompt is signalled and cannot be answered any more, the agent
refuses calls from anyone but devbgd, registers again when devbgd restarts
and unregisters when disposed; and docs/consent-agent.md's Python agent, as
printed, works."""
import json
import os
import signal
import subprocess

from devbgtest import wait_for, BUILD_DIR, SOURCE_DIR
import test_consent as tc

SCRIPT = os.path.join(SOURCE_DIR, 'tests', 'integration', 'py_lib_agent.py')
LIB_DIR = os.path.abspath(os.path.join(BUILD_DIR, 'lib'))
DEVBG_ERROR = 'devbg-error-quark'
INVALID_ARGUMENT = 1
NO_SUCH_PERMISSION = 16


class LibAgentTest(tc.ConsentBase):

    def env(self):
        env = self.bus.env()
        env['GI_TYPELIB_PATH'] = LIB_DIR
        env['LD_LIBRARY_PATH'] = LIB_DIR
        env.update(sanitizer_env())
        return env

    def py(self, *args):
        r = subprocess.run(['/usr/bin/python3', SCRIPT] + [str(a) for a in args], env=self.env(),
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout.strip(), r.stderr

    def start_lib_agent(self, mode):
        """A Python agent on libdevbg; returns (process, log path, unique name, path)."""
        log = os.path.join(self.shared, 'lib-agent-%s.log' % mode)
        proc = subprocess.Popen(['/usr/bin/python3', SCRIPT, 'agent', '--mode', mode, '--log', log],
                                env=self.env(), stdout=subprocess.PIPE, text=True)
        self.agents.append(proc)
        line = proc.stdout.readline().split()
        self.assertEqual(line[:1], ['ready'], line)
        return proc, log, line[1], line[2]

    def events(self, log, kind):
        return [e for e in self.read_log(log) if e['event'] == kind]

    def list_permissions(self):
        rc, out, err = self.py('list')
        self.assertEqual(rc, 0, (out, err))
        return json.loads(out)

    # ---- the tests ----

    def test_python_agent_allows_then_lists_and_revokes_through_the_library(self):
        _, log, _, _ = self.start_lib_agent('allow')
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        [p] = self.events(log, 'prompt')
        self.assertEqual((p['app-id'], p['device-id'], p['model-id'], p['trigger'], p['uid']),
                         (tc.APP_A, tc.BAND, tc.BAND_MODEL, 'use', 0))
        self.assertEqual(p['device-name'], 'devbg-sim fitness band')
        self.assertTrue(p['app-name'])
        self.assertTrue(p['remembered'])
        self.assertTrue(p['open'])
        self.assertEqual(p['warnings'], [])
        self.assertIn('prompt-id', p['details-keys'])
        [a] = self.events(log, 'answered')
        self.assertEqual((a['prompt-id'], a['allow'], a['open-after']), (p['prompt-id'], True, False))

        # The remembered consent, listed through the library as devbgctl lists it.
        [perm] = self.list_permissions()
        self.assertEqual((perm['uid'], perm['app-id'], perm['model-id']), (0, tc.APP_A, tc.BAND_MODEL))
        self.assertEqual([(q['uid'], q['app-id'], q['model-id'], q['created-us'])
                          for q in self.permissions()],
                         [(perm['uid'], perm['app-id'], perm['model-id'], perm['created-us'])])
        # Remembered: the next request asks nobody.
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        self.assertEqual(len(self.events(log, 'prompt')), 1)

        # Revoked through the library: gone, and the next request asks again.
        self.assertEqual(self.py('revoke', 0, tc.APP_A, tc.BAND_MODEL)[:2], (0, 'REVOKED 1'))
        self.assertEqual(self.list_permissions(), [])
        rc, out, _ = self.py('revoke', 0, tc.APP_A, tc.BAND_MODEL)
        self.assertEqual(rc, 1)
        self.assertTrue(out.startswith('ERROR %s %d ' % (DEVBG_ERROR, NO_SUCH_PERMISSION)), out)
        self.assertIn('no stored consent', out)
        self.assertNotIn('GDBus.Error', out)
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        self.assertEqual(len(self.events(log, 'prompt')), 2)
        # Every model of the app (no model given).
        self.assertEqual(self.py('revoke', 0, tc.APP_A)[:2], (0, 'REVOKED 1'))
        self.assertEqual(self.list_permissions(), [])

    def test_bad_revoke_is_a_local_error_and_changes_nothing(self):
        self.start_lib_agent('allow')
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        for bad in ('', 'x' * 256):
            rc, out, _ = self.py('revoke', 0, bad)
            self.assertEqual(rc, 1)
            self.assertTrue(out.startswith('ERROR %s %d app_id is' % (DEVBG_ERROR, INVALID_ARGUMENT)),
                            out)
        self.assertEqual(len(self.list_permissions()), 1)
        # Another user's consent: devbgd's AccessDenied, as a DevbgError.
        cmd = ['setpriv', '--reuid=%d' % tc.NOBODY, '--regid=%d' % tc.NOBODY, '--clear-groups',
               '/usr/bin/python3', SCRIPT, 'revoke', '0', tc.APP_A]
        r = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=60)
        self.assertIn('ERROR %s 9 uid %d may not revoke' % (DEVBG_ERROR, tc.NOBODY), r.stdout,
                      r.stderr)
        self.assertEqual(len(self.list_permissions()), 1)

    def test_servicing_prompt_carries_warnings_and_estimate_and_deny_denies(self):
        _, log, _, _ = self.start_lib_agent('deny')
        self.assertEqual(self.request(self.app_a, tc.DOCK, 'servicing', 90), (1, 'denied-by-user'))
        [p] = self.events(log, 'prompt')
        self.assertEqual((p['trigger'], p['device-id'], p['expected-duration-s'], p['remembered']),
                         ('servicing', tc.DOCK, 90, False))
        self.assertEqual(len(p['warnings']), 2)
        self.assertIn('Keep the device connected', p['warnings'][0])
        self.assertEqual(self.list_permissions(), [])

    def test_withdrawn_prompt_is_signalled_and_cannot_be_answered(self):
        _, log, _, _ = self.start_lib_agent('hold')
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        [p] = self.events(log, 'prompt')
        wait_for(lambda: self.events(log, 'answer-failed'), what='the late answer')
        [w] = self.events(log, 'withdrawn')
        self.assertEqual((w['prompt-id'], w['open']), (p['prompt-id'], False))
        [f] = self.events(log, 'answer-failed')
        self.assertEqual((f['domain'], f['code']), (DEVBG_ERROR, 0))
        self.assertIn('is over', f['message'])
        self.assertIn('no answer within', self.devbgd.read_log())
        self.assertEqual(self.list_permissions(), [])

    def test_only_devbgd_may_call_the_agent(self):
        _, log, name, path = self.start_lib_agent('allow')
        Gio, GLib = self.gio()
        bus = Gio.DBusConnection.new_for_address_sync(
            self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.addCleanup(lambda: bus.is_closed() or bus.close_sync(None))
        details = {'prompt-id': GLib.Variant('s', 'fake'), 'app-id': GLib.Variant('s', 'evil'),
                   'trigger': GLib.Variant('s', 'use')}
        with self.assertRaises(GLib.Error) as ctx:
            bus.call_sync(name, path, 'org.devbg.Devbg1.ConsentAgent1', 'RequestConsent',
                          GLib.Variant('(a{sv})', (details,)), None, Gio.DBusCallFlags.NONE,
                          5000, None)
        self.assertIn('AccessDenied', ctx.exception.message)
        self.assertEqual(self.events(log, 'prompt'), [])

    def test_agent_registers_again_after_devbgd_restarts_and_unregisters_when_disposed(self):
        proc, log, name, path = self.start_lib_agent('allow')
        registered = lambda: [e['registered'] for e in self.events(log, 'registered')]
        self.assertEqual(registered(), [True])
        self.devbgd.stop()
        wait_for(lambda: registered() == [True, False], what='the agent to see devbgd go')
        self.devbgd.start()
        wait_for(lambda: registered() == [True, False, True], what='the agent to register again')
        wait_for(lambda: tc.BAND in self.devbgctl('devices').stdout, what='the band')
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        self.assertEqual(len(self.events(log, 'prompt')), 1)
        # Disposed (SIGTERM): unregistered, so devbgd asks no one.
        self.assertEqual(self.py('revoke', 0, tc.APP_A)[:2], (0, 'REVOKED 1'))
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0)
        self.assertIn('consent agent %s %s unregistered' % (name, path), self.devbgd.read_log())
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        self.assertIn('no consent agent runs; HeadlessConsent=deny', self.devbgd.read_log())

    def test_agent_started_before_devbgd_registers_when_it_appears(self):
        self.devbgd.stop()
        log = os.path.join(self.shared, 'lib-agent-early.log')
        proc = subprocess.Popen(['/usr/bin/python3', SCRIPT, 'agent', '--mode', 'allow', '--log',
                                 log, '--wait'], env=self.env(), stdout=subprocess.PIPE, text=True)
        self.agents.append(proc)
        line = proc.stdout.readline()
        self.assertTrue(line.startswith('ERROR g-dbus-error-quark'), line)
        self.assertEqual(self.events(log, 'registered'), [])
        self.devbgd.start()
        wait_for(lambda: [e['registered'] for e in self.events(log, 'registered')] == [True],
                 what='the agent to register with devbgd once it appeared')
        wait_for(lambda: tc.BAND in self.devbgctl('devices').stdout, what='the band')
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        self.assertEqual(len(self.events(log, 'prompt')), 1)

    def test_the_documented_python_agent_works(self):
        """docs/consent-agent.md's libdevbg agent, as printed, answers a
        prompt with what the person types."""
        with open(os.path.join(SOURCE_DIR, 'docs', 'consent-agent.md')) as f:
            doc = f.read()
        code = doc[doc.index('```python\n') + len('```python\n'):]
        code = code[:code.index('```')]
        self.assertIn('Devbg.ConsentAgent', code)
        script = os.path.join(self.tmpdir, 'doc_agent.py')
        with open(script, 'w') as f:
            f.write(code)
        agent = subprocess.Popen(['/usr/bin/python3', script], env=self.env(),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.agents.append(agent)
        self.assertEqual(agent.stdout.readline().strip(), 'Waiting for prompts')
        proc = self.start_request(self.app_a)
        said = []
        for line in agent.stdout:
            said.append(line.strip())
            if line.startswith('Allow?'):
                break
        self.assertIn('wants to sync with devbg-sim fitness band in the background.', said[0])
        self.assertIn('Your answer is remembered for this kind of device.', said)
        agent.stdin.write('y\n')
        agent.stdin.flush()
        self.assertEqual(self.result_line(proc), ['RESULT', '0', 'allowed'])
        proc.communicate(timeout=30)
        self.assertEqual([p['app-id'] for p in self.list_permissions()], [tc.APP_A])
        # The terminal closes: the agent stops and unregisters.
        agent.stdin.close()
        self.assertEqual(agent.wait(10), 0)

    @staticmethod
    def gio():
        from gi.repository import Gio, GLib
        return Gio, GLib


def sanitizer_env():
    """In a sanitizer build, libdevbg needs its sanitizer runtimes loaded
    first into Python, which was not built with them (as test_python does)."""
    r = subprocess.run(['ldd', os.path.join(LIB_DIR, 'libdevbg.so')], capture_output=True,
                       text=True)
    preload = [line.split('=>')[1].split()[0] for line in r.stdout.splitlines()
               if 'san.so' in line and '=>' in line]
    if not preload:
        return {}
    return {'LD_PRELOAD': ':'.join(preload), 'ASAN_OPTIONS': 'detect_leaks=0'}


if __name__ == '__main__':
    import unittest
    unittest.main()
