#!/usr/bin/python3
"""Flatpak apps (issue 13): a sandbox is an app only when a trusted
installation deployed that app and commit; an app declares its tasks in
the manifest it ships (/app/share/devbg/<app-id>.xml); its tasks run in a
new instance of its own sandbox, with fds 0-4 only, supervised and killed
as host tasks are; uninstall and update cancel them.

The second half builds a real Flatpak app offline (TESTING-NOTES.md,
"Flatpak, offline"): a runtime made of the host's libraries that the test
client and task need, the app holding both, installed into the test
devbgd's own installations."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import unittest

from devbgtest import (DevbgTestCase, DevbgSim, TestApp, manifest_xml, wait_for, BUILD_DIR,
                       TEST_CLIENT, SOURCE_DIR, cgroup2_root)
from test_runtime import parse, BAND, DOCK

NOBODY = 65534
# A second user: one that exists (dbus-daemon refuses a uid with no passwd entry).
OTHER_UID = pwd.getpwnam('daemon').pw_uid
AS_NOBODY = ['setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups']
ERR = 'org.devbg.Devbg1.Error.'
APP = 'org.devbg.test.Flat'
TEST_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-test-task')


def status_of(lines):
    return dict(l.split('=', 1) for l in lines[1:] if '=' in l)


class InstallationIdentityTest(DevbgTestCase):
    """A genuine-looking sandbox (its .flatpak-info a read-only bind mount
    made with privilege, the app unprivileged) is the app it names only
    when a trusted installation deployed that app and commit."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('needs root for mount namespaces and setpriv')
        self.app = TestApp(self.tmpdir, 'client')
        # The manifest is the host's: what is tested is the installation check.
        self.devbgd.write_manifest('flat.xml', manifest_xml(APP, None, [
            ('F.Sync', ['deviceUse'], '/usr/libexec/devbg-test/tasks')]))
        self.root = os.path.join(self.tmpdir, 'sandbox')
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.devbgd.start()

    def sandbox_prefix(self, info_text, uid=NOBODY):
        info = os.path.join(self.root, '.flatpak-info')
        with open(info, 'w') as f:
            f.write(info_text)
        lines = ['set -e', 'root="%s"' % self.root,
                 'mount --bind "$root/.flatpak-info" "$root/.flatpak-info"',
                 'mount -o remount,bind,ro "$root/.flatpak-info"']
        for entry in ('usr', 'etc', 'proc', 'dev', 'bin', 'sbin', 'lib', 'lib64'):
            src = '/' + entry
            if os.path.islink(src):
                lines.append('[ -e "$root/%s" ] || ln -s "%s" "$root/%s"'
                             % (entry, os.readlink(src), entry))
            elif os.path.isdir(src):
                lines.append('mkdir -p "$root/%s" && mount --rbind "%s" "$root/%s"'
                             % (entry, src, entry))
        lines.append('mkdir -p "$root%s" && mount --bind "%s" "$root%s"'
                     % (self.tmpdir, self.tmpdir, self.tmpdir))
        lines.append('exec chroot --userspec=%d:%d "$root" "$@"' % (uid, uid))
        return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', '\n'.join(lines),
                'sh']

    def status(self, prefix):
        return status_of(self.app.ok(self.bus, 'status', prefix=prefix))

    def assert_refused(self, prefix, why, uid=NOBODY):
        st = self.status(prefix)
        self.assertEqual((st['app-id'], st['identity'], st['uid']), ('', 'none', str(uid)))
        name, _ = self.app.error(self.bus, 'register', 'x', 'F.Sync', 'use', prefix=prefix)
        self.assertEqual(name, ERR + 'UnknownApp')
        log = self.devbgd.read_log()
        self.assertIn('is refused as a Flatpak app', log)
        self.assertIn(why, log)

    def test_installed_commit_accepted(self):
        prefix = self.sandbox_prefix(self.devbgd.fake_flatpak_deployment(APP))
        st = self.status(prefix)
        self.assertEqual((st['app-id'], st['identity']), (APP, 'flatpak'))
        self.app.ok(self.bus, 'register', 'sync', 'F.Sync', 'use', prefix=prefix)

    def test_app_not_installed_refused(self):
        # A .flatpak-info naming an app that no installation holds.
        info = self.devbgd.fake_flatpak_deployment(APP)
        shutil.rmtree(os.path.join(self.devbgd.flatpak_system_dir, 'app', APP))
        self.assert_refused(self.sandbox_prefix(info), 'is not installed in')

    def test_commit_not_installed_refused(self):
        # The app is installed, but not the commit the sandbox claims.
        self.devbgd.fake_flatpak_deployment(APP)
        info = self.devbgd.fake_flatpak_deployment(APP, commit='cd' * 32)
        shutil.rmtree(os.path.join(self.devbgd.flatpak_system_dir, 'app', APP, 'x86_64',
                                   'stable', 'cd' * 32))
        self.assert_refused(self.sandbox_prefix(info), 'commit cdcdcdcdcdcd is not installed')

    def test_app_path_not_matching_commit_refused(self):
        # app-path of one deployment, app-commit of another.
        info = self.devbgd.fake_flatpak_deployment(APP)
        self.devbgd.fake_flatpak_deployment(APP, commit='cd' * 32)
        info = info.replace('app-commit=' + 'ab' * 32, 'app-commit=' + 'cd' * 32)
        self.assert_refused(self.sandbox_prefix(info), 'is not installed in')

    def test_installation_of_the_callers_own_making_refused(self):
        # flatpak run with FLATPAK_SYSTEM_DIR pointing at a directory of the
        # user's: a real sandbox of an app that no trusted installation has.
        own = OwnInstallation(os.path.join(self.tmpdir, 'own'))
        info = own.fake_flatpak_deployment(APP)
        self.assert_refused(self.sandbox_prefix(info), 'which is in no installation trusted '
                            'for uid %d' % NOBODY)

    def test_deployment_not_root_owned_refused(self):
        info = self.devbgd.fake_flatpak_deployment(APP)
        deploy = os.path.join(self.devbgd.flatpak_system_dir, 'app', APP, 'x86_64', 'stable',
                              'ab' * 32)
        os.chown(deploy, NOBODY, NOBODY)
        self.assert_refused(self.sandbox_prefix(info), 'is owned by uid %d, not by uid 0' % NOBODY)

    def ship_manifest(self, owner):
        """A deployment laid out as flatpak makes it (current, active), its
        manifest owned by @owner; devbgd told as flatpak tells it (.changed)."""
        info = self.devbgd.fake_flatpak_deployment(APP)
        app_dir = os.path.join(self.devbgd.flatpak_system_dir, 'app', APP)
        os.symlink('x86_64/stable', os.path.join(app_dir, 'current'))
        os.symlink('ab' * 32, os.path.join(app_dir, 'x86_64', 'stable', 'active'))
        shipped = os.path.join(app_dir, 'x86_64', 'stable', 'ab' * 32, 'files', 'share', 'devbg')
        os.makedirs(shipped)
        path = os.path.join(shipped, APP + '.xml')
        with open(path, 'w') as f:
            f.write(manifest_xml(APP, None, [('F.Shipped', ['deviceUse'], '/app/bin/task')]))
        os.chown(path, owner, owner)
        open(os.path.join(self.devbgd.flatpak_system_dir, '.changed'), 'w').close()
        return info, path

    def test_shipped_manifest_loaded_without_restart(self):
        info, path = self.ship_manifest(0)
        wait_for(lambda: 'manifest %s loaded' % path in self.devbgd.read_log(),
                 what='the shipped manifest')
        self.app.ok(self.bus, 'register', 'x', 'F.Shipped', 'use', prefix=self.sandbox_prefix(info))

    def test_shipped_manifest_not_root_owned_refused(self):
        # In the system installation only root (the system helper) deploys.
        info, path = self.ship_manifest(NOBODY)
        wait_for(lambda: '%s is owned by uid %d, not by uid 0' % (path, NOBODY)
                 in self.devbgd.read_log(), what='the refusal')
        name, _ = self.app.error(self.bus, 'register', 'x', 'F.Shipped', 'use',
                                 prefix=self.sandbox_prefix(info))
        self.assertEqual(name, ERR + 'EntryPointNotDeclared')

    def test_uninstalled_app_is_unknown_to_new_connections(self):
        info = self.devbgd.fake_flatpak_deployment(APP)
        prefix = self.sandbox_prefix(info)
        self.assertEqual(self.status(prefix)['app-id'], APP)
        shutil.rmtree(os.path.join(self.devbgd.flatpak_system_dir, 'app', APP))
        self.assert_refused(prefix, 'is not installed in')



class UnknownSandboxTest(DevbgTestCase):
    """A sandbox that is no app devbgd knows (its app ships no devbg
    manifest, or its .flatpak-info is not trusted) is not a tool of its
    user either: a user's own programs (devbgctl) see, cancel and revoke
    what every app of theirs does; a sandboxed game was let do the same to
    the user's device apps (found by a hostile-user review)."""
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=3600\n')

    sandbox_prefix = InstallationIdentityTest.sandbox_prefix
    status = InstallationIdentityTest.status

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('needs root for mount namespaces and setpriv')
        self.sim = DevbgSim(self.bus, self.tmpdir).start()
        self.addCleanup(self.sim.stop)
        task, = self.copy_tasks(TEST_TASK)
        self.app = TestApp(self.tmpdir, 'client')
        self.victim = TestApp(self.tmpdir, 'victim-app')
        self.devbgd.write_manifest('victim.xml', manifest_xml('org.devbg.test.Victim',
                                                              self.victim.path,
                                                              [('Test.Idle', ['deviceUse'], task)]))
        self.root = os.path.join(self.tmpdir, 'sandbox')
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band')

    def test_unknown_sandbox_has_no_rights_of_its_user(self):
        tid = self.victim.ok(self.bus, 'register', 'idle', 'Test.Idle', 'use',
                             user=NOBODY)[0].split()[1]
        out = self.victim.run(self.bus, 'run', tid, BAND, '', 0, 'detach', 'exit-after-start',
                              user=NOBODY)
        iid = [l.split()[3] for l in out if l.startswith('RESULT 0')][0]
        # A Flatpak app of the same user, installed, with no devbg manifest.
        prefix = self.sandbox_prefix(self.devbgd.fake_flatpak_deployment('org.example.Game'))
        st = self.status(prefix)
        self.assertEqual((st['app-id'], st['identity'], st['uid']), ('', 'flatpak', str(NOBODY)))
        for method, args in [('ListTasks', '()'), ('Cancel', '("%s",)' % iid),
                             ('History', '(uint32 10, "")'), ('ListPermissions', '("",)'),
                             ('RevokePermission', '(uint32 %d, "org.devbg.test.Victim", "*")'
                              % NOBODY)]:
            name, line = self.app.error(self.bus, 'call', method, args, prefix=prefix)
            self.assertEqual(name, ERR + 'UnknownApp', (method, line))
            self.assertIn('is a sandbox that is no app devbgd knows', line)
        # The victim's task runs on, untouched.
        self.assertIn(iid, self.victim.ok(self.bus, 'call', 'ListTasks', '()', user=NOBODY)[0])
        self.victim.ok(self.bus, 'call', 'Cancel', '("%s",)' % iid, user=NOBODY)


class UserInstallationBoundsTest(DevbgTestCase):
    """A user's own installation is the user's to fill and to touch, and
    devbgd reads it on its main loop: at most 256 apps and 16 MiB of
    manifests a load, one reload per 5 s, and one log line for a load's
    skipped manifests (a hostile-user review blocked devbgd 2.9 s a load
    with 60 apps of 1 MiB manifests reloaded every 200 ms, and made 15,000
    warning lines a second with 5,000 bad ones)."""

    sandbox_prefix = InstallationIdentityTest.sandbox_prefix
    status = InstallationIdentityTest.status

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('needs root for mount namespaces and setpriv')
        self.app = TestApp(self.tmpdir, 'client')
        self.user_dir = self.devbgd.flatpak_user_dir.replace('%u', str(NOBODY))
        os.makedirs(self.user_dir)
        os.chown(self.user_dir, NOBODY, NOBODY)
        self.root = os.path.join(self.tmpdir, 'sandbox')
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)

    def user_app(self, app_id, manifest, commit='ab' * 32):
        """A deployment of @app_id in nobody's own installation, laid out as
        flatpak makes one, shipping @manifest (text or bytes); the
        .flatpak-info text of a sandbox of it."""
        app_dir = os.path.join(self.user_dir, 'app', app_id)
        deploy = os.path.join(app_dir, 'x86_64', 'stable', commit)
        shipped = os.path.join(deploy, 'files', 'share', 'devbg')
        os.makedirs(shipped)
        open(os.path.join(deploy, 'deploy'), 'w').close()
        os.symlink('x86_64/stable', os.path.join(app_dir, 'current'))
        os.symlink(commit, os.path.join(app_dir, 'x86_64', 'stable', 'active'))
        path = os.path.join(shipped, app_id + '.xml')
        with open(path, 'wb') as f:
            f.write(manifest.encode() if isinstance(manifest, str) else manifest)
        for d, dirs, files in os.walk(os.path.join(self.user_dir, 'app')):
            for name in dirs + files + ['.']:
                os.lchown(os.path.join(d, name), NOBODY, NOBODY)
        return ('[Application]\nname=%s\nruntime=runtime/x/y/z\n\n[Instance]\n'
                'app-path=%s/files\napp-commit=%s\narch=x86_64\nbranch=stable\n'
                % (app_id, deploy, commit))

    @staticmethod
    def manifest(app_id, pad=0):
        text = manifest_xml(app_id, None, [('U.Sync', ['deviceUse'], '/app/bin/task')])
        return text + ('<!--%s-->\n' % ('x' * pad) if pad else '')

    def app_id_of(self, info):
        st = self.status(self.sandbox_prefix(info))
        self.assertEqual((st['identity'], st['uid']), ('flatpak', str(NOBODY)))
        return st['app-id']

    def reloads(self):
        return self.devbgd.read_log().count('Flatpak installation %s: ' % self.user_dir)

    def test_apps_past_the_limit_ignored_with_one_line(self):
        infos = [self.user_app('org.devbg.test.U%03d' % i, self.manifest('org.devbg.test.U%03d' % i))
                 for i in range(300)]
        self.devbgd.start()
        self.assertEqual(self.app_id_of(infos[0]), 'org.devbg.test.U000')
        self.assertEqual(self.app_id_of(infos[255]), 'org.devbg.test.U255')
        # The 257th by app ID is deployed, but devbgd read no manifest of it.
        self.assertEqual(self.app_id_of(infos[256]), '')
        log = self.devbgd.read_log()
        self.assertEqual(log.count('44 app IDs past its first 256 apps (in order of ID) ignored'),
                         1, log[-3000:])
        self.assertIn('Flatpak installation %s: 256 apps, 256 with a devbg manifest'
                      % self.user_dir, log)

    def test_manifest_bytes_bounded(self):
        # 20 manifests of nearly 1 MiB: 16 fit in 16 MiB, 4 are not read.
        infos = [self.user_app('org.devbg.test.B%02d' % i,
                               self.manifest('org.devbg.test.B%02d' % i, pad=1040000))
                 for i in range(20)]
        self.devbgd.start()
        self.assertEqual(self.app_id_of(infos[0]), 'org.devbg.test.B00')
        self.assertEqual(self.app_id_of(infos[15]), 'org.devbg.test.B15')
        self.assertEqual(self.app_id_of(infos[16]), '')
        log = self.devbgd.read_log()
        self.assertEqual(log.count('4 manifests past 16 MiB in all not read (org.devbg.test.B16, '
                                   'org.devbg.test.B17, org.devbg.test.B18 and 1 more)'), 1,
                         log[-3000:])

    def test_bad_manifests_are_one_line(self):
        infos = [self.user_app('org.devbg.test.X%03d' % i, '<a>') for i in range(50)]
        self.devbgd.start()
        self.assertEqual(self.app_id_of(infos[0]), '')
        log = self.devbgd.read_log()
        self.assertNotIn('skipped Flatpak manifest', log)
        lines = [l for l in log.splitlines() if '50 manifests skipped: ' in l]
        self.assertEqual(len(lines), 1, log[-3000:])
        self.assertIn('X000.xml', lines[0])
        self.assertIn('; and 47 more', lines[0])

    def test_reloads_rate_limited_and_last_change_kept(self):
        import time
        first = self.user_app('org.devbg.test.First', self.manifest('org.devbg.test.First'))
        self.devbgd.start()
        self.assertEqual(self.app_id_of(first), 'org.devbg.test.First')
        self.assertEqual(self.reloads(), 1)
        changed = os.path.join(self.user_dir, '.changed')
        start = time.monotonic()
        late = None
        while time.monotonic() - start < 3:
            open(changed, 'w').close()
            if late is None and time.monotonic() - start > 1:
                # Installed during the quiet time: read at its end.
                late = self.user_app('org.devbg.test.Late', self.manifest('org.devbg.test.Late'))
                open(changed, 'w').close()
            time.sleep(0.1)
        # 30 changes in 3 s: no reload yet (one every 200 ms before).
        self.assertEqual(self.reloads(), 1)
        wait_for(lambda: 'share/devbg/org.devbg.test.Late.xml loaded' in self.devbgd.read_log(),
                 what='the change made during the quiet time')
        self.assertEqual(self.reloads(), 2)
        self.assertEqual(self.app_id_of(late), 'org.devbg.test.Late')

class OwnInstallation:
    """An installation root of the test's (not devbgd's), with the same
    fake_flatpak_deployment()."""

    def __init__(self, root):
        self.flatpak_system_dir = root

    def fake_flatpak_deployment(self, app_id, commit='ab' * 32):
        from devbgtest import Devbgd
        return Devbgd.fake_flatpak_deployment(self, app_id, commit)


# ---- a real Flatpak app, built offline ----

FLATPAK = shutil.which('flatpak')
RUNTIME = 'org.devbg.test.Platform'


def run(cmd, env=None, **kw):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, **kw)
    if r.returncode != 0:
        raise AssertionError('%s failed (%d): %s%s' % (cmd, r.returncode, r.stdout, r.stderr))
    return r.stdout


def host_libraries(*programs):
    """The shared libraries (and the loader) that @programs need."""
    libs = set()
    for program in programs:
        for line in run(['ldd', program]).splitlines():
            for word in line.split():
                if word.startswith('/'):
                    libs.add(word)
    return sorted(libs)


def flatpak_unusable():
    """Why a real Flatpak app cannot run here, or None."""
    if os.geteuid() != 0:
        return 'needs root to install into a scratch system installation and to switch users'
    if FLATPAK is None:
        return 'flatpak is not installed (apt-get install flatpak)'
    if not os.access('/bin/busybox', os.X_OK):
        return 'the test runtime is made of /bin/busybox (apt-get install busybox-static)'
    r = subprocess.run(AS_NOBODY + ['bwrap', '--ro-bind', '/', '/', '--unshare-user',
                                    '--unshare-pid', 'true'], capture_output=True, text=True)
    if r.returncode != 0:
        return 'bubblewrap cannot make a user namespace as an unprivileged user: ' + r.stderr
    return None


class FlatpakRepo:
    """An ostree repository with the runtime and two commits of the app
    (the second an update), built once for the whole class."""

    def __init__(self, workdir, reports_dir):
        self.dir = workdir
        self.repo = os.path.join(workdir, 'repo')
        env = dict(os.environ, FLATPAK_SYSTEM_DIR=os.path.join(workdir, 'build-installation'))
        self.env = env
        rt = os.path.join(workdir, 'runtime')
        for lib in host_libraries(TEST_CLIENT, TEST_TASK):
            dest = os.path.join(rt, 'files', os.path.relpath(lib, '/').replace('usr/', '', 1))
            if lib.startswith('/lib64/'):
                dest = os.path.join(rt, 'files', 'lib64', os.path.basename(lib))
            elif '/x86_64-linux-gnu/' in lib:
                dest = os.path.join(rt, 'files', 'lib', 'x86_64-linux-gnu', os.path.basename(lib))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(lib, dest)
        os.makedirs(os.path.join(rt, 'files', 'bin'))
        shutil.copy2('/bin/busybox', os.path.join(rt, 'files', 'bin', 'busybox'))
        for name in ('sh', 'sleep', 'cat', 'ls'):
            os.symlink('busybox', os.path.join(rt, 'files', 'bin', name))
        with open(os.path.join(rt, 'metadata'), 'w') as f:
            f.write('[Runtime]\nname=%s\nruntime=%s/x86_64/1\nsdk=%s/x86_64/1\n'
                    % (RUNTIME, RUNTIME, RUNTIME))
        run([FLATPAK, 'build-export', '--runtime', '--files=files', self.repo, rt, '1'], env=env)
        self.reports = reports_dir
        self.commits = [self.build_app('app1', APP, 1), self.build_app('app2', APP, 2)]
        self.other_id_commit = self.build_app('app-other', APP, 3, claimed_id='org.devbg.test.Other',
                                              branch='other')

    @staticmethod
    def install_program(program, dest):
        # An ASan build's LeakSanitizer cannot stop the world inside the
        # sandbox (it dies with "fatal error" at exit): off there.
        if 'libasan' not in run(['ldd', program]):
            shutil.copy2(program, dest)
            return
        shutil.copy2(program, dest + '.real')
        with open(dest, 'w') as f:
            f.write('#!/bin/sh\nASAN_OPTIONS=detect_leaks=0 exec %s.real "$@"\n'
                    % ('/app/bin/' + os.path.basename(dest)))
        os.chmod(dest, 0o755)

    def build_app(self, name, app_id, version, claimed_id=None, branch='stable'):
        d = os.path.join(self.dir, name)
        # build-init needs the runtime installed where it looks.
        inst = self.env['FLATPAK_SYSTEM_DIR']
        if not os.path.isdir(os.path.join(inst, 'runtime', RUNTIME)):
            run([FLATPAK, 'remote-add', '--system', '--if-not-exists', '--no-gpg-verify', 'build',
                 self.repo], env=self.env)
            run([FLATPAK, 'install', '--system', '-y', '--noninteractive', 'build',
                 'runtime/%s/x86_64/1' % RUNTIME], env=self.env)
        run([FLATPAK, 'build-init', d, app_id, RUNTIME, RUNTIME, '1'], env=self.env)
        files = os.path.join(d, 'files')
        os.makedirs(os.path.join(files, 'bin'))
        os.makedirs(os.path.join(files, 'share', 'devbg'))
        for program, name in ((TEST_CLIENT, 'client'), (TEST_TASK, 'task')):
            self.install_program(program, os.path.join(files, 'bin', name))
        with open(os.path.join(files, 'share', 'version'), 'w') as f:
            f.write('%d\n' % version)
        eps = [(ep, ['deviceUse', 'deviceServicing'], '/app/bin/task')
               for ep in ('Test.Idle', 'Test.ReportFds', 'Test.Progress')]
        with open(os.path.join(files, 'share', 'devbg', app_id + '.xml'), 'w') as f:
            f.write(manifest_xml(claimed_id or app_id, None, eps))
        run([FLATPAK, 'build-finish', '--command=client', '--filesystem=' + self.reports, d],
            env=self.env)
        out = run([FLATPAK, 'build-export', self.repo, d, branch], env=self.env)
        return [l.split()[1] for l in out.splitlines() if l.startswith('Commit:')][0]


class FlatpakAppTest(DevbgTestCase):
    config = ('[Service]\nEnableVirtualBackend=true\n'
              '[Policy]\nCancelGracePeriod=1\nCpuFloorMs=0\nIoActivityWindow=100\n')
    repo = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = flatpak_unusable()
        if why is not None:
            raise unittest.SkipTest(why)
        cls.class_dir = tempfile.mkdtemp(prefix='devbg-flatpak-')
        os.chmod(cls.class_dir, 0o755)
        cls.reports = os.path.join(cls.class_dir, 'reports')
        os.makedirs(cls.reports)
        os.chmod(cls.reports, 0o777)
        try:
            cls.repo = FlatpakRepo(cls.class_dir, cls.reports)
        except Exception:
            shutil.rmtree(cls.class_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, 'class_dir', None):
            shutil.rmtree(cls.class_dir, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.sim = DevbgSim(self.bus, self.tmpdir).start()
        self.addCleanup(self.sim.stop)
        self.system_env = dict(os.environ, FLATPAK_SYSTEM_DIR=self.devbgd.flatpak_system_dir)
        self.flatpak_system('remote-add', '--no-gpg-verify', 'test-repo', self.repo.repo)
        self.flatpak_system('install', '-y', '--noninteractive', 'test-repo',
                            'runtime/%s/x86_64/1' % RUNTIME)
        self.home = os.path.join(self.tmpdir, 'home')
        os.makedirs(self.home)
        os.chown(self.home, NOBODY, NOBODY)
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band')

    def flatpak_system(self, *args):
        return run([FLATPAK, '--system'] + list(args), env=self.system_env)

    def install(self):
        """Installs the app at its first commit (the repository's branch
        holds the second, the update), and waits for devbgd to load it."""
        self.flatpak_system('install', '-y', '--noninteractive', 'test-repo', 'app/%s/x86_64/stable'
                            % APP)
        self.update(0)
        self.wait_loaded(self.repo.commits[0])

    def update(self, commit_index):
        self.flatpak_system('update', '-y', '--noninteractive',
                            '--commit=' + self.repo.commits[commit_index],
                            'app/%s/x86_64/stable' % APP)

    def wait_loaded(self, commit):
        wait_for(lambda: 'Flatpak app %s commit %s: manifest %s/app/%s/x86_64/stable/%s/files/'
                 'share/devbg/%s.xml loaded' % (APP, commit[:12], self.devbgd.flatpak_system_dir,
                                                APP, commit, APP)
                 in self.devbgd.read_log(), what='devbgd to load the manifest of ' + commit)

    def in_app(self, *args, uid=NOBODY, user_dir=None, app=APP, background=False):
        """The test client, run inside a new sandbox of the app as @uid."""
        env = ['HOME=' + self.home, 'PATH=/usr/bin:/bin',
               'FLATPAK_SYSTEM_DIR=' + self.devbgd.flatpak_system_dir]
        where = '--system'
        if user_dir is not None:
            env.append('FLATPAK_USER_DIR=' + user_dir)
            where = '--user'
        cmd = (['setpriv', '--reuid=%d' % uid, '--regid=%d' % uid, '--clear-groups', 'env', '-i']
               + env + [FLATPAK, 'run', where, '--no-a11y-bus',
                        '--env=DBUS_SYSTEM_BUS_ADDRESS=' + self.bus.address,
                        '--filesystem=' + os.path.dirname(self.bus.socket),
                        '--command=/app/bin/client', app] + [str(a) for a in args])
        if background:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.addCleanup(lambda: proc.poll() is None and proc.kill())
            return proc
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if not r.stdout:
            raise AssertionError('%s printed nothing (rc %d): %s' % (cmd, r.returncode, r.stderr))
        return r.stdout.splitlines()

    def app_status(self, **kw):
        return status_of(self.in_app('status', **kw))

    def register(self, ep, **kw):
        lines = self.in_app('register', ep.lower(), ep, 'use', **kw)
        self.assertTrue(lines[0].startswith('OK'), lines)
        return lines[0].split()[1]

    def start_idle(self, **kw):
        tid = self.register('Test.Idle', **kw)
        proc = self.in_app('run', tid, BAND, '', 0, background=True, **kw)
        line = proc.stdout.readline().split()
        self.assertEqual(line[:3], ['RESULT', '0', 'allowed'], (line, proc.stderr.read()
                                                                 if not line else ''))
        return proc, line[3]

    def task_cgroup_pids(self, iid):
        import json
        for t in json.loads(self.devbgctl('--json', 'tasks').stdout):
            if t['instance-id'] == iid and t.get('pid'):
                return t
        return None

    def sandboxed_processes(self, cgroup):
        pids = []
        with open(os.path.join(cgroup, 'cgroup.procs')) as f:
            pids = [int(p) for p in f.read().split()]
        return pids

    @staticmethod
    def flatpak_info_of(pid):
        try:
            with open('/proc/%d/root/.flatpak-info' % pid) as f:
                return f.read()
        except OSError:
            return ''

    def completion(self, proc):
        out, _ = proc.communicate(timeout=30)
        done = [f for k, f in parse(out.splitlines()) if k == 'COMPLETED']
        self.assertEqual(len(done), 1, out)
        return done[0]

    # ---- the tests ----

    def test_app_registers_from_its_sandbox_and_its_task_runs_in_a_new_one(self):
        self.install()
        st = self.app_status()
        self.assertEqual((st['app-id'], st['identity'], st['uid']), (APP, 'flatpak', str(NOBODY)))
        report = os.path.join(self.reports, 'fds-%s' % os.path.basename(self.tmpdir))
        tid = self.register('Test.ReportFds')
        events = parse(self.in_app('run', tid, BAND, 'path=' + report, 0))
        self.assertEqual([k for k, _ in events][0], 'RESULT')
        self.assertEqual([f for k, f in events if k == 'COMPLETED'][0][2], '1', events)
        rep = dict(l.split('=', 1) for l in open(report).read().splitlines() if '=' in l)
        self.assertEqual(rep['fds'], '0,1,2,3,4')
        self.assertEqual(rep['uid'], str(NOBODY))

    def test_root_callers_task_runs_as_the_task_user_in_the_sandbox(self):
        # Tasks never run as root: a root caller's runs as TaskUserForRoot
        # (devbg-task), with a home that devbgd makes for it.
        task_user = pwd.getpwnam('devbg-task').pw_uid
        self.install()
        report = os.path.join(self.reports, 'root-%s' % os.path.basename(self.tmpdir))
        tid = self.register('Test.ReportFds', uid=0)
        events = parse(self.in_app('run', tid, BAND, 'path=' + report, 0, uid=0))
        self.assertEqual([f for k, f in events if k == 'COMPLETED'][0][2], '1', events)
        rep = dict(l.split('=', 1) for l in open(report).read().splitlines() if '=' in l)
        self.assertEqual((rep['uid'], rep['fds']), (str(task_user), '0,1,2,3,4'))
        self.assertTrue(os.path.isdir(os.path.join(self.devbgd.flatpak_home_dir, str(task_user),
                                                   '.var', 'app', APP)))

    def test_root_callers_own_installation_runs_no_task(self):
        # root's own installation is root's: its task would run as devbg-task.
        user_dir = self.devbgd.flatpak_user_dir.replace('%u', '0')
        os.makedirs(user_dir)
        env = dict(os.environ, FLATPAK_USER_DIR=user_dir, HOME=self.home)
        run([FLATPAK, '--user', 'remote-add', '--no-gpg-verify', 'test-repo', self.repo.repo],
            env=env)
        run([FLATPAK, '--user', 'install', '-y', '--noninteractive', 'test-repo',
             'runtime/%s/x86_64/1' % RUNTIME, 'app/%s/x86_64/stable' % APP], env=env)
        tid = self.register('Test.Idle', uid=0, user_dir=user_dir)
        lines = self.in_app('run', tid, BAND, '', 0, uid=0, user_dir=user_dir)
        self.assertFalse(any(l.startswith('RESULT 0 allowed') for l in lines), lines)
        self.assertIn("comes from uid 0's own Flatpak installation, whose tasks run only as that "
                      "user, not as uid %d" % pwd.getpwnam('devbg-task').pw_uid,
                      self.devbgd.read_log() + '\n'.join(lines))

    def test_task_sandbox_names_the_app_and_cancel_kills_the_tree(self):
        self.install()
        proc, iid = self.start_idle()
        task = wait_for(lambda: self.task_cgroup_pids(iid), what='the task')
        with open('/proc/%d/cgroup' % task['pid']) as f:
            rel = [l[3:] for l in f.read().splitlines() if l.startswith('0::')][0]
        cgroup = cgroup2_root() + rel
        self.assertIn('instance-' + iid, cgroup)
        pids = wait_for(lambda: [p for p in self.sandboxed_processes(cgroup)
                                 if 'name=%s\n' % APP in self.flatpak_info_of(p)],
                        what='the task in its sandbox')
        self.assertIn('app-commit=%s' % self.repo.commits[0], self.flatpak_info_of(pids[0]))
        all_pids = self.sandboxed_processes(cgroup)
        self.devbgctl('cancel', iid)
        done = self.completion(proc)
        self.assertEqual(done[2], '0')
        wait_for(lambda: not any(os.path.exists('/proc/%d' % p) for p in all_pids),
                 what='the sandboxed tree to be killed')

    def test_uninstall_cancels_with_uninstall(self):
        self.install()
        proc, iid = self.start_idle()
        self.flatpak_system('uninstall', '-y', '--noninteractive', APP)
        done = self.completion(proc)
        self.assertEqual(done[3], 'uninstall', done)
        wait_for(lambda: 'Flatpak app %s in %s: uninstalled' % (APP, self.devbgd.flatpak_system_dir)
                 in self.devbgd.read_log(), what='the log line')

    def test_task_ending_as_its_files_go_is_canceled_with_uninstall(self):
        """The race behind a flake of the test above: the sandbox loses its
        files and the task ends before devbgd's debounced reload has seen
        the uninstall (here, with no reload at all: nothing at the
        installation's top changes). devbgd checks the deployment when the
        task ends, so the uninstall is still its reason."""
        import signal
        self.install()
        proc, iid = self.start_idle()
        task = wait_for(lambda: self.task_cgroup_pids(iid), what='the task')
        deploy = os.path.join(self.devbgd.flatpak_system_dir, 'app', APP, 'x86_64', 'stable',
                              self.repo.commits[0])
        # As flatpak does: the deployment moved aside, then the app's end.
        os.rename(deploy, os.path.join(self.tmpdir, 'removed-deployment'))
        os.kill(task['pid'], signal.SIGKILL)
        done = self.completion(proc)
        self.assertEqual(done[3], 'uninstall', done)

    def test_update_cancels_with_servicing_update(self):
        self.install()
        proc, iid = self.start_idle()
        self.update(1)
        done = self.completion(proc)
        self.assertEqual(done[3], 'servicing-update', done)
        # The new version is the app from now on.
        self.wait_loaded(self.repo.commits[1])
        self.assertEqual(self.app_status()['app-id'], APP)

    def test_manifest_claiming_another_app_id_refused(self):
        self.flatpak_system('install', '-y', '--noninteractive', 'test-repo',
                            'app/%s/x86_64/other' % APP)
        wait_for(lambda: 'claims app ID org.devbg.test.Other, but Flatpak app %s ships it' % APP
                 in self.devbgd.read_log(), what='the refusal in the log')
        st = self.app_status()
        self.assertEqual(st['app-id'], '')
        lines = self.in_app('register', 'x', 'Test.Idle', 'use')
        self.assertTrue(lines[0].startswith('ERROR ' + ERR + 'UnknownApp'), lines)
        self.assertIn('has no devbg manifest', lines[0])

    def install_for_nobody(self):
        """nobody's own installation, made by nobody, holding the app."""
        user_dir = self.devbgd.flatpak_user_dir.replace('%u', str(NOBODY))
        os.makedirs(user_dir)
        os.chmod(os.path.dirname(user_dir), 0o755)
        os.chown(user_dir, NOBODY, NOBODY)
        env = dict(os.environ, FLATPAK_USER_DIR=user_dir, HOME=self.home)
        # flatpak asks the parental controls (accountsservice, on the system
        # bus) before a user installs an app: the private bus has none.
        as_nobody = AS_NOBODY + ['env', 'FLATPAK_USER_DIR=' + user_dir, 'HOME=' + self.home,
                                 'DBUS_SYSTEM_BUS_ADDRESS=' + self.bus.address]
        run(as_nobody + [FLATPAK, '--user', 'remote-add', '--no-gpg-verify', 'test-repo',
                         self.repo.repo], env=env)
        run(as_nobody + [FLATPAK, '--user', 'install', '-y', '--noninteractive', 'test-repo',
                         'runtime/%s/x86_64/1' % RUNTIME, 'app/%s/x86_64/stable' % APP], env=env)
        return user_dir

    def servicing(self, **kw):
        lines = self.in_app('register', 'update', 'Test.Progress', 'servicing', **kw)
        self.assertTrue(lines[0].startswith('OK'), lines)
        events = parse(self.in_app('run', lines[0].split()[1], DOCK, 'count=2', 60, **kw))
        return [f for k, f in events if k == 'RESULT'][0]

    def test_app_of_a_users_own_installation_is_never_privileged_by_name(self):
        # The dock's metadata names the app privileged (no AnyApplication).
        os.remove(os.path.join(self.devbgd.metadata_dir, 'devbg-sim-any-app.xml'))
        with open(os.path.join(SOURCE_DIR, 'data', 'metadata', 'devbg-sim-dock.xml')) as f:
            self.devbgd.write_metadata('dock.xml', f.read().replace('org.devbg.ExampleApp', APP))
        self.install()
        wait_for(lambda: self.servicing()[:2] == ['0', 'allowed'],
                 what='the app of the system installation to be privileged for the dock')
        # The same app ID from nobody's own installation: anyone can build it.
        user_dir = self.install_for_nobody()
        self.assertEqual(self.app_status(user_dir=user_dir)['app-id'], APP)
        self.assertEqual(self.servicing(user_dir=user_dir)[1], 'not-privileged')

    def test_user_installation_trusted_for_its_user_only(self):
        user_dir = self.install_for_nobody()
        st = self.app_status(user_dir=user_dir)
        self.assertEqual((st['app-id'], st['identity']), (APP, 'flatpak'))
        report = os.path.join(self.reports, 'user-%s' % os.path.basename(self.tmpdir))
        tid = self.register('Test.ReportFds', user_dir=user_dir)
        events = parse(self.in_app('run', tid, BAND, 'path=' + report, 0, user_dir=user_dir))
        self.assertEqual([f for k, f in events if k == 'COMPLETED'][0][2], '1', events)
        self.assertEqual(dict(l.split('=', 1) for l in open(report).read().splitlines()
                              if '=' in l)['uid'], str(NOBODY))
        # Another user running nobody's installation is not that app.
        home = os.path.join(self.tmpdir, 'home-other')
        os.makedirs(home)
        os.chown(home, OTHER_UID, OTHER_UID)
        self.home = home
        lines = self.in_app('status', uid=OTHER_UID, user_dir=user_dir)
        st = status_of(lines)
        self.assertIn('app-id', st, lines)
        self.assertEqual((st['app-id'], st['uid']), ('', str(OTHER_UID)))
        self.assertIn('which is in no installation trusted for uid %d' % OTHER_UID,
                      self.devbgd.read_log())


class ExampleFlatpakTest(DevbgTestCase):
    """The example vendor app, built as a Flatpak bundle by
    scripts/flatpak-example.sh, installed from the bundle: it syncs the band
    from its sandbox, and its task writes the records in another."""
    config = FlatpakAppTest.config
    EXAMPLE = 'org.devbg.ExampleApp'

    def setUp(self):
        super().setUp()
        why = flatpak_unusable()
        if why is not None:
            self.skipTest(why)
        example = os.path.join(BUILD_DIR, 'examples', 'devbg-example-app')
        if not os.access(example, os.X_OK):
            self.skipTest('the example app is not built')
        if 'libasan' in run(['ldd', example]):
            # LeakSanitizer cannot run inside a sandbox (see install_program).
            self.skipTest('the example bundle is made from a build without sanitizers')
        self.sim = DevbgSim(self.bus, self.tmpdir).start()
        self.addCleanup(self.sim.stop)
        self.devbgd.start()
        wait_for(lambda: BAND in self.devbgctl('devices').stdout, what='the band')

    def test_example_bundle_syncs_the_band_from_its_sandbox(self):
        out = os.path.join(self.tmpdir, 'example')
        bundle = run(['sh', os.path.join(SOURCE_DIR, 'scripts', 'flatpak-example.sh'), BUILD_DIR,
                      out]).strip().splitlines()[-1]
        self.assertTrue(os.path.isfile(bundle), bundle)
        env = dict(os.environ, FLATPAK_SYSTEM_DIR=self.devbgd.flatpak_system_dir)
        run([FLATPAK, 'remote-add', '--system', '--no-gpg-verify', 'example',
             os.path.join(out, 'repo')], env=env)
        run([FLATPAK, 'install', '--system', '-y', '--noninteractive', 'example',
             'runtime/org.devbg.example.Platform/x86_64/1'], env=env)
        run([FLATPAK, 'install', '--system', '-y', '--noninteractive', '--bundle', bundle], env=env)
        wait_for(lambda: 'share/devbg/%s.xml loaded' % self.EXAMPLE in self.devbgd.read_log(),
                 what='the shipped manifest')
        # As nobody, with the home devbgd gives nobody's tasks: the app and
        # its task then share ~/.var/app/org.devbg.ExampleApp.
        home = os.path.join(self.devbgd.flatpak_home_dir, str(NOBODY))
        os.makedirs(home)
        os.chmod(self.devbgd.flatpak_home_dir, 0o711)
        os.chown(home, NOBODY, NOBODY)
        r = subprocess.run(AS_NOBODY + ['env', '-i', 'HOME=' + home, 'PATH=/usr/bin:/bin',
                                        'FLATPAK_SYSTEM_DIR=' + self.devbgd.flatpak_system_dir,
                                        FLATPAK, 'run', '--system', '--no-a11y-bus',
                                        '--env=DBUS_SYSTEM_BUS_ADDRESS=' + self.bus.address,
                                        '--filesystem=' + os.path.dirname(self.bus.socket),
                                        self.EXAMPLE, 'sync', BAND],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        records = os.path.join(home, '.var', 'app', self.EXAMPLE, 'data', 'devbg-example-app',
                               'band-records.csv')
        # The task wrote them in its sandbox, the app counted them in its own.
        self.assertIn('100 records stored in %s' % records, r.stdout)
        with open(records) as f:
            self.assertEqual(len(f.read().splitlines()), 100)
        self.assertIn('Flatpak app %s commit' % self.EXAMPLE, self.devbgd.read_log())


if __name__ == '__main__':
    unittest.main()
