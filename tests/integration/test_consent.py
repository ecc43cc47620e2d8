# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""User consent against the real devbgd, devbg-sim's devices and consent
agents on the private bus: a test agent (consent_agent.py), `devbgctl
agent`, and devbg-agent answering through python-dbusmock's notification
daemon. Use consent is asked once per (user, app, device model) and stored
until revoked; servicing consent every time, with warnings and estimate;
no answer, no agent, a refusal, a garbage answer, an agent or app that
leaves: DeniedByUser."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

from devbgtest import DevbgTestCase, DevbgSim, TestApp, manifest_xml, wait_for, BUILD_DIR, DEVBGCTL

TEST_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-test-task')
DEVBG_AGENT = os.path.join(BUILD_DIR, 'src', 'agent', 'devbg-agent')
AGENT_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'consent_agent.py')
APP_A = 'org.devbg.test.AppA'
APP_B = 'org.devbg.test.AppB'
BAND = 'virtual-B0A1-0000'
DOCK = 'virtual-D0C1-0000'
BAND_MODEL = '{b0a1b0a1-5e9d-4f6b-9a51-3c0d1e2f0b01}'
OTHER_MODEL = '{0be70be7-0000-4000-8000-000000000002}'
ERR = 'org.devbg.Devbg1.Error.'
NOBODY = 65534
ENTRY_POINTS = ['Test.Progress', 'Test.Idle']


# App B names itself in its manifest (<VisualElements DisplayName>); A does not.
APP_B_NAME = 'Band Sync & Co'


class ConsentBase(DevbgTestCase):
    consent_timeout = 3
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=100\n'
              'HeadlessConsent=deny\nConsentTimeout=%g\n')

    def setUp(self):
        self.config = self.config % self.consent_timeout
        super().setUp()
        self.sim = DevbgSim(self.bus, self.tmpdir).start()
        self.addCleanup(self.sim.stop)
        self.task_exe, = self.copy_tasks(TEST_TASK)
        self.shared = os.path.join(self.tmpdir, 'shared')
        os.makedirs(self.shared)
        os.chmod(self.shared, 0o777)
        self.app_a = TestApp(self.tmpdir, 'app-a')
        self.app_b = TestApp(self.tmpdir, 'app-b')
        eps = [(ep, ['deviceUse', 'deviceServicing'], self.task_exe) for ep in ENTRY_POINTS]
        self.devbgd.write_manifest('a.xml', manifest_xml(APP_A, self.app_a.path, eps))
        self.devbgd.write_manifest('b.xml', manifest_xml(APP_B, self.app_b.path, eps,
                                                         display_name=APP_B_NAME))
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band')
        self.agents = []

    def tearDown(self):
        for proc in self.agents:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        super().tearDown()

    # ---- helpers ----

    def start_agent(self, mode='allow', user=None, name='agent', delay=1.0, env=None):
        """A test consent agent; returns (process, its log path)."""
        log = os.path.join(self.shared, name + '.log')
        cmd = [sys.executable if sys.executable.startswith('/usr/bin/') else '/usr/bin/python3',
               AGENT_SCRIPT, '--mode', mode, '--log', log, '--delay', str(delay)]
        if user is not None:
            cmd = ['setpriv', '--reuid=%d' % user, '--regid=%d' % user, '--clear-groups'] + cmd
        proc = subprocess.Popen(cmd, env=env or self.bus.env(), stdout=subprocess.PIPE, text=True)
        self.agents.append(proc)
        self.assertEqual(proc.stdout.readline().strip(), 'ready')
        return proc, log

    @staticmethod
    def read_log(path):
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def prompts(self, path):
        return [e['details'] for e in self.read_log(path) if e['call'] == 'RequestConsent']

    def register(self, app, ep='Test.Progress', trigger='use', user=None):
        return app.ok(self.bus, 'register', ep.lower() + trigger, ep, trigger,
                      user=user)[0].split()[1]

    def request(self, app, device=BAND, trigger='use', duration=0, ep='Test.Progress', user=None,
                args='count=2 interval_ms=10'):
        """Registers and runs a task to its end; returns (result code, reason)."""
        tid = self.register(app, ep, trigger, user=user)
        lines = app.run(self.bus, 'run', tid, device, args, duration, user=user)
        results = [l.split() for l in lines if l.startswith('RESULT ')]
        self.assertEqual(len(results), 1, lines)
        return int(results[0][1]), results[0][2]

    def start_request(self, app, device=BAND, ep='Test.Progress', args='count=2 interval_ms=10'):
        tid = self.register(app, ep)
        proc = subprocess.Popen([app.path, 'run', tid, device, args, '0'], env=self.bus.env(),
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    @staticmethod
    def result_line(proc):
        """The first three words of a background request's RESULT line."""
        for line in proc.stdout:
            if line.startswith('RESULT '):
                return line.split()[:3]
        return None

    def permissions(self, user=None):
        return json.loads(self.devbgctl('--json', 'permissions', user=user).stdout)


class ConsentTest(ConsentBase):

    def test_no_agent_is_headless_deny(self):
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        self.assertIn('no consent agent runs; HeadlessConsent=deny', self.devbgd.read_log())
        self.assertEqual(self.permissions(), [])

    def test_one_prompt_at_a_time_per_app(self):
        # An app's request that waits for its user's answer is its task:
        # a second one is refused at once (already-running), so that no
        # app can fill the session's prompt queue and get another app's
        # request refused unasked, as if its user had said no.
        _, log = self.start_agent('silent')
        waiting = self.start_request(self.app_a)
        wait_for(lambda: len(self.prompts(log)) == 1, what="app A's prompt")
        for _ in range(3):
            self.assertEqual(self.request(self.app_a), (2, 'already-running'))
        self.assertIn("already waits for its user's answer to a consent prompt",
                      self.devbgd.read_log())
        # Another app of the same user is asked.
        other = self.start_request(self.app_b)
        wait_for(lambda: len(self.prompts(log)) == 2, what="app B's prompt")
        self.assertEqual([p['app-id'] for p in self.prompts(log)], [APP_A, APP_B])
        for proc in (waiting, other):
            proc.kill()
            proc.wait()

    def test_prompt_names_the_app_by_its_display_name(self):
        _, log = self.start_agent('deny')
        self.assertEqual(self.request(self.app_b), (1, 'denied-by-user'))
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        b, a = self.prompts(log)
        self.assertEqual((b['app-id'], b['app-name']), (APP_B, APP_B_NAME))
        # Without a DisplayName the ID is the name.
        self.assertEqual((a['app-id'], a['app-name']), (APP_A, APP_A))

    def test_agent_refuses(self):
        _, log = self.start_agent('deny')
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        [p] = self.prompts(log)
        self.assertEqual(p['app-id'], APP_A)
        self.assertEqual(p['device-id'], BAND)
        self.assertEqual(p['device-name'], 'devbg-sim fitness band')
        self.assertEqual(p['model-id'], BAND_MODEL)
        self.assertEqual(p['trigger'], 'use')
        self.assertEqual(p['uid'], os.getuid())
        self.assertNotIn('warnings', p)
        # A refusal is not stored: the next request asks again.
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        self.assertEqual(len(self.prompts(log)), 2)

    def test_no_answer_in_time_is_denial_and_withdrawn(self):
        _, log = self.start_agent('silent')
        start = time.monotonic()
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, self.consent_timeout - 0.2)
        self.assertLess(elapsed, self.consent_timeout + 5)
        [p] = self.prompts(log)
        wait_for(lambda: [e for e in self.read_log(log) if e['call'] == 'CancelConsent'],
                 what='CancelConsent')
        cancel = [e for e in self.read_log(log) if e['call'] == 'CancelConsent'][0]
        self.assertEqual(cancel['prompt-id'], p['prompt-id'])
        self.assertTrue(cancel['was-open'])
        self.assertIn('gave no answer within', self.devbgd.read_log())

    def test_use_consent_stored_per_user_app_and_model(self):
        _, log = self.start_agent('allow')
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        self.assertEqual(len(self.prompts(log)), 1)
        # Stored: not asked again for the same unit ...
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        # ... nor for a second unit of the same model.
        self.sim.ctl('add', 'band', 'id=band1', 'serial=B0A1-0001')
        wait_for(lambda: 'virtual-B0A1-0001' in self.devbgctl('devices').stdout, what='band1')
        self.assertEqual(self.request(self.app_a, 'virtual-B0A1-0001'), (0, 'allowed'))
        self.assertEqual(len(self.prompts(log)), 1)
        # Another model is asked.
        self.sim.ctl('add', 'band', 'id=band2', 'serial=B0A1-0002', 'model-id=' + OTHER_MODEL)
        wait_for(lambda: 'virtual-B0A1-0002' in self.devbgctl('devices').stdout, what='band2')
        self.assertEqual(self.request(self.app_a, 'virtual-B0A1-0002'), (0, 'allowed'))
        prompts = self.prompts(log)
        self.assertEqual(len(prompts), 2)
        self.assertEqual(prompts[1]['model-id'], OTHER_MODEL)
        # Another app is asked: consent is per app.
        self.assertEqual(self.request(self.app_b), (0, 'allowed'))
        self.assertEqual(len(self.prompts(log)), 3)
        stored = sorted((p['app-id'], p['model-id'], p['uid']) for p in self.permissions())
        self.assertEqual(stored, sorted([(APP_A, BAND_MODEL, 0), (APP_A, OTHER_MODEL, 0),
                                         (APP_B, BAND_MODEL, 0)]))
        # Revoked: asked again, for that model only.
        r = self.devbgctl('permissions', 'revoke', APP_A, BAND_MODEL)
        self.assertIn('Revoked 1 stored consent', r.stdout)
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        self.assertEqual(len(self.prompts(log)), 4)
        self.assertEqual(self.request(self.app_a, 'virtual-B0A1-0002'), (0, 'allowed'))
        self.assertEqual(len(self.prompts(log)), 4)

    def test_consent_survives_restart(self):
        _, log = self.start_agent('allow')
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        self.devbgd.stop()
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band')
        # The agent left nothing behind in the new devbgd, but none is needed.
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        self.assertEqual(len(self.prompts(log)), 1)

    def test_servicing_asked_every_time_with_warnings_and_estimate(self):
        _, log = self.start_agent('allow')
        self.assertEqual(self.request(self.app_a, DOCK, 'servicing', 120), (0, 'allowed'))
        self.assertEqual(self.request(self.app_a, DOCK, 'servicing', 0), (0, 'allowed'))
        prompts = self.prompts(log)
        self.assertEqual(len(prompts), 2)
        for p, estimate in zip(prompts, (120, 0)):
            self.assertEqual(p['trigger'], 'servicing')
            self.assertEqual(p['device-id'], DOCK)
            self.assertEqual(p['expected-duration'], estimate)
            self.assertEqual(len(p['warnings']), 2)
            self.assertIn('connected', p['warnings'][0])
            self.assertIn('charged', p['warnings'][1])
        self.assertNotEqual(prompts[0]['prompt-id'], prompts[1]['prompt-id'])
        # Never stored.
        self.assertEqual(self.permissions(), [])

    def test_agent_of_another_user_is_never_asked(self):
        _, log = self.start_agent('allow', user=NOBODY)
        # The app runs as root: nobody's agent is not asked, none of root runs.
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        self.assertEqual(self.prompts(log), [])
        # The same app run as nobody is asked through nobody's agent.
        self.assertEqual(self.request(self.app_a, user=NOBODY), (0, 'allowed'))
        [p] = self.prompts(log)
        self.assertEqual(p['uid'], NOBODY)
        # Consent is per user: nobody's does not cover root.
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        self.assertEqual([(p['uid'], p['app-id']) for p in self.permissions()],
                         [(NOBODY, APP_A)])
        self.assertEqual([p['uid'] for p in self.permissions(user=NOBODY)], [NOBODY])

    def test_agent_leaving_mid_prompt_is_denial(self):
        agent, log = self.start_agent('silent')
        proc = self.start_request(self.app_a)
        wait_for(lambda: self.prompts(log), what='the prompt')
        start = time.monotonic()
        agent.kill()
        agent.wait()
        self.assertEqual(self.result_line(proc), ['RESULT', '1', 'denied-by-user'])
        self.assertLess(time.monotonic() - start, self.consent_timeout)
        self.assertIn('the consent agent left before it answered', self.devbgd.read_log())

    def test_app_leaving_withdraws_its_prompt(self):
        _, log = self.start_agent('silent')
        proc = self.start_request(self.app_a)
        wait_for(lambda: self.prompts(log), what='the prompt')
        [p] = self.prompts(log)
        proc.kill()
        proc.wait()
        wait_for(lambda: [e for e in self.read_log(log) if e['call'] == 'CancelConsent'],
                 timeout=self.consent_timeout - 0.5, what='CancelConsent before the timeout')
        cancel = [e for e in self.read_log(log) if e['call'] == 'CancelConsent'][0]
        self.assertEqual(cancel['prompt-id'], p['prompt-id'])
        wait_for(lambda: 'the app left while its consent prompt was open' in self.devbgd.read_log(),
                 what='the log')
        # The device was not given to anyone meanwhile, and is free now.
        self.assertEqual(self.devbgctl('--json', 'tasks').stdout.count('instance-id'), 0)

    def test_devbgd_stopping_denies_open_prompt(self):
        _, log = self.start_agent('silent')
        proc = self.start_request(self.app_a)
        wait_for(lambda: self.prompts(log), what='the prompt')
        self.assertEqual(self.devbgd.stop(), 0)
        self.assertEqual(self.result_line(proc), ['RESULT', '1', 'denied-by-user'])
        wait_for(lambda: [e for e in self.read_log(log) if e['call'] == 'CancelConsent'],
                 what='CancelConsent')

    def test_garbage_answer_is_ignored_logged_and_denied(self):
        _, log = self.start_agent('garbage')
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        self.assertIn('answered (s), not (b)', self.devbgd.read_log())
        self.assertEqual(self.permissions(), [])

    def test_prompts_of_one_session_one_at_a_time(self):
        _, log = self.start_agent('slow', delay=0.7)
        a = self.start_request(self.app_a, BAND)
        b = self.start_request(self.app_b, DOCK)
        for proc in (a, b):
            self.assertEqual(self.result_line(proc), ['RESULT', '0', 'allowed'])
        entries = [e for e in self.read_log(log) if e['call'] == 'RequestConsent']
        self.assertEqual(sorted(e['details']['app-id'] for e in entries), [APP_A, APP_B])
        # Each was shown while no other was open, the second after the first's answer.
        self.assertEqual([e['open'] for e in entries], [1, 1])
        self.assertGreaterEqual(entries[1]['time'] - entries[0]['time'], 0.6)

    def test_revoking_cancels_running_use_task(self):
        self.start_agent('allow')
        tid = self.register(self.app_a, 'Test.Idle')
        proc = subprocess.Popen([self.app_a.path, 'run', tid, BAND, '', '0'], env=self.bus.env(),
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertEqual(self.result_line(proc), ['RESULT', '0', 'allowed'])
        self.devbgctl('permissions', 'revoke', APP_A)
        out, _ = proc.communicate(timeout=30)
        done = [l for l in out.splitlines() if l.startswith('COMPLETED')]
        self.assertEqual(len(done), 1, out)
        self.assertIn('system-policy', done[0])

    def test_an_app_cannot_be_a_consent_agent(self):
        name, _ = self.app_a.error(self.bus, 'call', 'RegisterConsentAgent',
                                   "(objectpath '/org/devbg/test/Agent',)")
        self.assertEqual(name, ERR + 'AccessDenied')

    def test_revoking_another_users_consent_needs_root(self):
        self.start_agent('allow')
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        cmd = ['setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups',
               DEVBGCTL, 'permissions', 'revoke', '--uid', '0', APP_A]
        r = subprocess.run(cmd, env=self.bus.env(), capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('may not revoke the consent uid 0 gave', r.stderr)
        self.assertEqual(self.permissions(user=NOBODY), [])
        self.assertEqual(len(self.permissions()), 1)
        # Nothing stored for nobody: a precise error, nothing changed.
        cmd[cmd.index('--uid') + 1] = str(NOBODY)
        r = subprocess.run(cmd, env=self.bus.env(), capture_output=True, text=True, timeout=30)
        self.assertIn('no stored consent', r.stderr)
        self.assertEqual(len(self.permissions()), 1)

    def test_agents_per_user_are_bounded(self):
        for i in range(8):
            self.start_agent('deny', name='agent%d' % i)
        log = os.path.join(self.shared, 'agent8.log')
        r = subprocess.run(['/usr/bin/python3', AGENT_SCRIPT, '--log', log], env=self.bus.env(),
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('LimitExceeded', r.stderr)

    def test_devbgctl_agent_answers_and_says_so(self):
        for flag, expect in (('--deny', (1, 'denied-by-user')), ('--allow', (0, 'allowed'))):
            agent = subprocess.Popen([DEVBGCTL, 'agent', flag], env=self.bus.env(),
                                     stdout=subprocess.PIPE, text=True)
            self.agents.append(agent)
            self.assertIn('registered', agent.stdout.readline())
            self.assertEqual(self.request(self.app_a, DOCK, 'servicing', 90), expect)
            agent.send_signal(signal.SIGINT)
            out, _ = agent.communicate(timeout=10)
            self.assertEqual(agent.returncode, 0)
            self.assertIn('\n  %s asks to update devbg-sim USB dock (%s)' % (APP_A, DOCK), out)
            self.assertIn('Warning: Keep the device connected', out)
            self.assertIn('Estimated time: 1 min 30 s', out)
            self.assertIn('Answering %s by itself' % flag[2:], out)


    def test_devbgctl_agent_shows_the_app_id_before_its_name(self):
        agent = subprocess.Popen([DEVBGCTL, 'agent', '--deny'], env=self.bus.env(),
                                 stdout=subprocess.PIPE, text=True)
        self.agents.append(agent)
        self.assertIn('registered', agent.stdout.readline())
        self.assertEqual(self.request(self.app_b), (1, 'denied-by-user'))
        agent.send_signal(signal.SIGINT)
        out, _ = agent.communicate(timeout=10)
        self.assertIn('\n  %s ("%s") asks to sync with devbg-sim fitness band'
                      % (APP_B, APP_B_NAME), out)

# logind's GetSessionByPID, as pam_systemd arranges it: a process is in the
# session its XDG_SESSION_ID names (python-dbusmock's logind has no such method).
SESSION_BY_PID = """
import dbus
try:
    with open('/proc/%d/environ' % args[0], 'rb') as f:
        env = dict(v.split(b'=', 1) for v in f.read().split(b'\\0') if b'=' in v)
except OSError:
    env = {}
if b'XDG_SESSION_ID' not in env:
    raise dbus.exceptions.DBusException('PID %d does not belong to any known session' % args[0],
                                        name='org.freedesktop.login1.NoSessionForPID')
ret = dbus.ObjectPath('/org/freedesktop/login1/session/' + env[b'XDG_SESSION_ID'].decode())
"""


class SessionTest(ConsentBase):
    """With logind (python-dbusmock's): an agent serves the session it
    registered from, and only that one."""

    def setUp(self):
        super().setUp()
        from gi.repository import Gio, GLib
        self.logind = subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--system',
                                        '--template', 'logind'], env=self.bus.env(),
                                       stdout=subprocess.DEVNULL)
        self.addCleanup(lambda: (self.logind.terminate(), self.logind.wait()))
        conn = Gio.DBusConnection.new_for_address_sync(
            self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.addCleanup(lambda: conn.is_closed() or conn.close_sync(None))

        def mock(method, args, path='/org/freedesktop/login1'):
            return conn.call_sync('org.freedesktop.login1', path, 'org.freedesktop.DBus.Mock',
                                  method, args, None, Gio.DBusCallFlags.NONE, 5000, None)
        wait_for(lambda: self.try_call(lambda: mock('AddSession', GLib.Variant(
            '(ssusb)', ('s1', 'seat0', 0, 'root', True)))), what='the mock logind')
        mock('AddSession', GLib.Variant('(ssusb)', ('s2', 'seat0', 0, 'root', False)))
        mock('AddMethod', GLib.Variant('(sssss)', ('org.freedesktop.login1.Manager',
                                                   'GetSessionByPID', 'u', 'o', SESSION_BY_PID)))

    @staticmethod
    def try_call(fn):
        try:
            fn()
            return True
        except Exception:
            return False

    def session_env(self, session):
        env = self.bus.env()
        env.pop('XDG_SESSION_ID', None)
        if session is not None:
            env['XDG_SESSION_ID'] = session
        return env

    def request_in(self, app, session, trigger='servicing'):
        tid = self.register(app, trigger=trigger)
        r = subprocess.run([app.path, 'run', tid, DOCK if trigger == 'servicing' else BAND,
                            'count=2 interval_ms=10', '0'], env=self.session_env(session),
                           capture_output=True, text=True, timeout=30)
        [result] = [l.split()[1:3] for l in r.stdout.splitlines() if l.startswith('RESULT ')]
        return int(result[0]), result[1]

    def test_agent_serves_only_its_session(self):
        _, log1 = self.start_agent('deny', name='s1', env=self.session_env('s1'))
        _, log2 = self.start_agent('allow', name='s2', env=self.session_env('s2'))
        self.assertIn('registered for uid 0, session s1', self.devbgd.read_log())
        self.assertIn('registered for uid 0, session s2', self.devbgd.read_log())
        self.assertEqual(self.request_in(self.app_a, 's2'), (0, 'allowed'))
        self.assertEqual((len(self.prompts(log1)), len(self.prompts(log2))), (0, 1))
        self.assertEqual(self.request_in(self.app_a, 's1'), (1, 'denied-by-user'))
        self.assertEqual((len(self.prompts(log1)), len(self.prompts(log2))), (1, 1))
        # A caller in no session: no session's agent answers for it.
        self.assertEqual(self.request_in(self.app_a, None), (1, 'denied-by-user'))
        self.assertEqual((len(self.prompts(log1)), len(self.prompts(log2))), (1, 1))
        self.assertIn('no consent agent runs; HeadlessConsent=deny', self.devbgd.read_log())


class HeadlessAllowTest(ConsentBase):
    config = ConsentBase.config.replace('HeadlessConsent=deny', 'HeadlessConsent=allow')

    def test_headless_allow_is_not_stored(self):
        # The administrator's default for when nobody can be asked is no
        # one's answer: it is read again at each request, so an allow of
        # its does not outlive the setting.
        self.assertEqual(self.request(self.app_a), (0, 'allowed'))
        self.assertEqual(self.permissions(), [])
        _, log = self.start_agent('deny')
        self.assertEqual(self.request(self.app_a), (1, 'denied-by-user'))
        self.assertEqual(len(self.prompts(log)), 1)


class DesktopAgentTest(ConsentBase):
    """devbg-agent on a private session bus, with python-dbusmock's
    notification daemon in place of the desktop's."""
    consent_timeout = 20
    body_markup = True  # the server reads markup in a body (dbusmock's default)

    def setUp(self):
        super().setUp()
        from gi.repository import Gio, GLib
        self.Gio, self.GLib = Gio, GLib
        self.session_proc = subprocess.Popen(['dbus-daemon', '--session', '--nofork',
                                              '--print-address'], stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(lambda: (self.session_proc.terminate(), self.session_proc.wait()))
        self.session_address = self.session_proc.stdout.readline().strip()
        env = self.session_env()
        self.mock = subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--template',
                                      'notification_daemon'] + self.mock_parameters(), env=env,
                                     stdout=subprocess.DEVNULL)
        self.addCleanup(lambda: (self.mock.terminate(), self.mock.wait()))
        self.session = Gio.DBusConnection.new_for_address_sync(
            self.session_address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.addCleanup(lambda: self.session.is_closed() or self.session.close_sync(None))
        wait_for(lambda: self.name_has_owner('org.freedesktop.Notifications'),
                 what='the mock notification daemon')
        self.agent = subprocess.Popen([DEVBG_AGENT], env=env, stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(self.tmpdir, 'agent.log'), 'w'))
        self.agents.append(self.agent)
        wait_for(lambda: 'registered for uid' in self.devbgd.read_log(), what='devbg-agent')

    def mock_parameters(self):
        """The notification daemon's: dbusmock's default capabilities,
        body-markup among them."""
        return []

    def session_env(self):
        env = self.bus.env()
        env['DBUS_SESSION_BUS_ADDRESS'] = self.session_address
        return env

    def name_has_owner(self, name):
        return self.session.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                      'org.freedesktop.DBus', 'NameHasOwner',
                                      self.GLib.Variant('(s)', (name,)), None,
                                      self.Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]

    def mock_call(self, method, args=None):
        return self.session.call_sync('org.freedesktop.Notifications',
                                      '/org/freedesktop/Notifications', 'org.freedesktop.DBus.Mock',
                                      method, args, None, self.Gio.DBusCallFlags.NONE, 5000,
                                      None).unpack()

    def notifications(self):
        """The Notify calls the mock received: (app, replaces, icon, summary, body, actions, hints, timeout)."""
        return [c[2] for c in self.mock_call('GetCalls')[0] if c[1] == 'Notify']

    def act(self, notification_id, action):
        self.mock_call('EmitSignal', self.GLib.Variant('(sssav)', (
            'org.freedesktop.Notifications', 'ActionInvoked', 'us',
            [self.GLib.Variant('u', notification_id), self.GLib.Variant('s', action)])))

    def test_devbg_agent_answers_through_notifications(self):
        proc = self.start_request(self.app_a)
        wait_for(lambda: len(self.notifications()) == 1, what='the first notification')
        [n] = self.notifications()
        self.assertEqual(n[3], 'Allow background sync?')
        self.assertIn('org.devbg.test.AppA wants to sync with devbg-sim fitness band', n[4])
        self.assertEqual(n[5], ['allow', 'Allow', 'deny', 'Deny'])
        self.act(1, 'allow')
        self.assertEqual(self.result_line(proc), ['RESULT', '0', 'allowed'])
        proc.communicate(timeout=30)
        self.assertEqual([p['app-id'] for p in self.permissions()], [APP_A])

        # A servicing prompt carries the warnings and the estimate; Deny denies.
        tid = self.register(self.app_a, trigger='servicing')
        proc = subprocess.Popen([self.app_a.path, 'run', tid, DOCK, '', '120'],
                                env=self.bus.env(), stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        wait_for(lambda: len(self.notifications()) == 2, what='the second notification')
        n = self.notifications()[1]
        self.assertEqual(n[3], 'Allow a device update?')
        self.assertIn('Keep the device connected', n[4])
        self.assertIn('Keep the computer charged', n[4])
        self.assertIn('about 2 minutes', n[4])
        # Someone else's signal, or an unknown notification ID, answers nothing.
        self.act(99, 'allow')
        self.act(2, 'deny')
        self.assertEqual(self.result_line(proc), ['RESULT', '1', 'denied-by-user'])

    def test_display_name_is_shown_beside_the_app_id(self):
        # The name is the app's claim: the ID devbgd vouches for comes first,
        # the name after it isolated (FSI ... PDI) so that a right-to-left
        # name does not reorder the paragraph.
        proc = self.start_request(self.app_b)
        wait_for(lambda: len(self.notifications()) == 1, what='the notification')
        body = self.notifications()[0][4]
        name = APP_B_NAME.replace('&', '&amp;') if self.body_markup else APP_B_NAME
        self.assertTrue(body.startswith('%s (\u201c\u2068%s\u2069\u201d) wants to sync with'
                                        % (APP_B, name)), body)
        self.act(1, 'deny')
        self.assertEqual(self.result_line(proc), ['RESULT', '1', 'denied-by-user'])

    def test_closed_notification_is_denial(self):
        proc = self.start_request(self.app_a)
        wait_for(lambda: len(self.notifications()) == 1, what='the notification')
        self.mock_call('EmitSignal', self.GLib.Variant('(sssav)', (
            'org.freedesktop.Notifications', 'NotificationClosed', 'uu',
            [self.GLib.Variant('u', 1), self.GLib.Variant('u', 2)])))
        self.assertEqual(self.result_line(proc), ['RESULT', '1', 'denied-by-user'])

    def test_names_cannot_add_markup_to_the_prompt(self):
        # A device names itself (a USB product string): its name goes into
        # the prompt as text, escaped for a server that reads markup.
        self.sim.ctl('rename', 'band0', '<b>Trusted</b> & <a href="x">y</a>')
        proc = self.start_request(self.app_a)
        wait_for(lambda: len(self.notifications()) == 1, what='the notification')
        body = self.notifications()[0][4]
        self.assertIn('sync with &lt;b&gt;Trusted&lt;/b&gt; &amp; &lt;a href=&quot;x&quot;&gt;y'
                      '&lt;/a&gt; in the background', body)
        self.assertNotIn('<b>', body)
        self.act(1, 'deny')
        self.assertEqual(self.result_line(proc), ['RESULT', '1', 'denied-by-user'])


class PlainTextAgentTest(DesktopAgentTest):
    """A notification server without body-markup shows the body as it is."""
    body_markup = False

    def mock_parameters(self):
        return ['-p', '{"capabilities": "body actions"}']

    def test_names_cannot_add_markup_to_the_prompt(self):
        self.sim.ctl('rename', 'band0', '<b>Band</b> & co')
        proc = self.start_request(self.app_a)
        wait_for(lambda: len(self.notifications()) == 1, what='the notification')
        self.assertIn('sync with <b>Band</b> & co in the background', self.notifications()[0][4])
        self.act(1, 'deny')
        self.assertEqual(self.result_line(proc), ['RESULT', '1', 'denied-by-user'])


if __name__ == '__main__':
    unittest.main()
