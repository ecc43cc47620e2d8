# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Test harness: a private system bus, the real devbgd on it, and test apps.

Run with /usr/bin/python3 (Debian's, which has dbusmock and gi). The build
directory comes from DEVBG_BUILD_DIR (set by meson), the sources from
DEVBG_SOURCE_DIR.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.sax.saxutils

BUILD_DIR = os.environ.get('DEVBG_BUILD_DIR', os.path.join(os.path.dirname(__file__), '..', '..', 'build'))
SOURCE_DIR = os.environ.get('DEVBG_SOURCE_DIR', os.path.join(os.path.dirname(__file__), '..', '..'))
DEVBGD = os.path.join(BUILD_DIR, 'src', 'daemon', 'devbgd')
DEVBGCTL = os.path.join(BUILD_DIR, 'src', 'cli', 'devbgctl')
TEST_CLIENT = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-test-client')
DEVBG_SIM = os.path.join(BUILD_DIR, 'sim', 'devbg-sim')

BUS_CONFIG_TEMPLATE = os.path.join(SOURCE_DIR, 'tests', 'private-bus.conf.in')


def wait_for(predicate, timeout=10.0, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError('timed out waiting for ' + what)


def rss_kib(pid):
    """The resident memory of process @pid, in KiB."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS')


def sanitized(pid):
    """Process @pid runs under AddressSanitizer (the build-asan pass), whose
    quarantine keeps freed memory: its RSS says nothing about leaks there
    (LeakSanitizer checks them)."""
    with open('/proc/%d/maps' % pid) as f:
        return 'libasan' in f.read()


class PrivateBus:
    """A dbus-daemon of type system, on a socket in @tmpdir, that non-root
    clients can use (see TESTING-NOTES.md)."""

    def __init__(self, tmpdir, extra_config=''):
        self.dir = os.path.join(tmpdir, 'bus')
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, 'system_bus_socket')
        self.address = 'unix:path=' + self.socket
        conf = os.path.join(self.dir, 'bus.conf')
        with open(conf, 'w') as f:
            with open(BUS_CONFIG_TEMPLATE) as t:
                f.write(t.read().replace('@SOCKET@', self.socket)
                        .replace('</busconfig>', extra_config + '</busconfig>'))
        self.proc = subprocess.Popen(['dbus-daemon', '--config-file=' + conf, '--nofork',
                                      '--print-address'], stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(self.dir, 'bus.log'), 'w'))
        self.proc.stdout.readline()
        os.chmod(self.socket, 0o777)

    def env(self, base=None):
        env = dict(base if base is not None else os.environ)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = self.address
        env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        return env

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def cgroup2_root():
    """Where the cgroup v2 hierarchy is mounted, or None."""
    with open('/proc/self/mountinfo') as f:
        for line in f:
            fields = line.split()
            if fields[fields.index('-') + 1] == 'cgroup2':
                return fields[4]
    return None


def with_task_cgroup(config, parent):
    """@config with [Service] TaskCgroupParent=@parent: each devbgd under test
    keeps its task cgroups apart, so that one never takes another's for
    leftovers of a crash."""
    line = 'TaskCgroupParent=%s\n' % parent
    if '[Service]\n' in config:
        return config.replace('[Service]\n', '[Service]\n' + line, 1)
    return '[Service]\n' + line + config


# The request policies that need a desktop (logind's foreground, consent)
# are off for tests that are not about them: those run devbgd with no
# logind and no consent agent, as a CI machine has. test_policy.py turns
# them on (permissive=False).
PERMISSIVE_POLICY = {'RequireForeground': 'false', 'HeadlessConsent': 'allow'}

# What devbg-sim's band and dock are, as a manifest declares them
# (DeviceCapability, Windows' syntax): the USB band and dock by vendor and
# product, the Bluetooth band by its serial port service.
SIM_DEVICE_CAPABILITIES = (
    '<DeviceCapability Name="usb">'
    '<Device Id="vidpid:1209 B0A1"><Function Type="classId:ff * *"/></Device>'
    '<Device Id="vidpid:1209 D0C1"><Function Type="name:vendorSpecific"/></Device>'
    '</DeviceCapability>'
    '<DeviceCapability Name="bluetooth.rfcomm">'
    '<Device Id="any"><Function Type="name:serialPort"/></Device>'
    '</DeviceCapability>')

# Device metadata that makes any app privileged for the simulated devices,
# for the tests of servicing tasks that are not about privilege.
SIM_METADATA_ANY_APP = (
    '<DeviceMetadata><HardwareIds>'
    '<HardwareId>USB\\VID_1209&amp;PID_D0C1</HardwareId>'
    '<HardwareId>USB\\VID_1209&amp;PID_B0A1</HardwareId>'
    '</HardwareIds><SoftwareInfo><PrivilegedApplications><AnyApplication/>'
    '</PrivilegedApplications></SoftwareInfo></DeviceMetadata>\n')


def with_policy_defaults(config, values):
    """@config with [Policy] @values for the keys it does not set itself
    (a keyfile's repeated group adds to the first)."""
    missing = ''.join('%s=%s\n' % (k, v) for k, v in values.items() if k + '=' not in config)
    if not missing:
        return config
    return config + ('' if config.endswith('\n') or not config else '\n') + '[Policy]\n' + missing


class Devbgd:
    """The real service, on a private bus, with its own state, config,
    manifest and metadata directories, and its own task cgroup parent.
    Unless @permissive is False, the desktop policies are off (see
    PERMISSIVE_POLICY) and, with the virtual backend, any app is
    privileged for the simulated devices. sysfs is an empty directory of
    the test's (DEVBG_SYSFS_ROOT): no battery, so on mains, whatever the
    host has."""

    def __init__(self, bus, tmpdir, config='', extra_args=(), permissive=True, verbose=True):
        self.bus = bus
        # --verbose: debug messages too (tests read them); benchmarks run
        # devbgd as installed, without.
        self.verbose = verbose
        self.tmpdir = tmpdir
        self.state_dir = os.path.join(tmpdir, 'state')
        self.manifest_dir = os.path.join(tmpdir, 'manifests')
        self.metadata_dir = os.path.join(tmpdir, 'metadata')
        self.config = os.path.join(tmpdir, 'devbgd.conf')
        self.log_path = os.path.join(tmpdir, 'devbgd.log')
        self.sysfs_root = os.path.join(tmpdir, 'sys')
        # Flatpak installations of the test's own, never the host's.
        self.flatpak_system_dir = os.path.join(tmpdir, 'flatpak')
        self.flatpak_user_dir = os.path.join(tmpdir, 'flatpak-users', '%u')
        self.flatpak_home_dir = os.path.join(tmpdir, 'flatpak-home')
        self.permissive = permissive
        for d in (self.manifest_dir, self.metadata_dir, self.sysfs_root):
            os.makedirs(d, exist_ok=True)
        if permissive and 'EnableVirtualBackend=true' in config:
            self.write_metadata('devbg-sim-any-app.xml', SIM_METADATA_ANY_APP)
        root = cgroup2_root()
        self.cgroup_parent = None
        if root is not None and os.access(root, os.W_OK):
            self.cgroup_parent = os.path.join(root, 'devbg-test-' + os.path.basename(tmpdir))
        self.write_config(config)
        self.extra_args = list(extra_args)
        self.proc = None

    def write_config(self, text):
        """The configuration file for the next start, with this devbgd's own
        task cgroup parent."""
        if self.cgroup_parent is not None and 'TaskCgroupParent' not in text:
            text = with_task_cgroup(text, self.cgroup_parent)
        if self.permissive:
            text = with_policy_defaults(text, PERMISSIVE_POLICY)
        with open(self.config, 'w') as f:
            f.write(text)

    def args(self):
        return [DEVBGD, '--bus-address', self.bus.address, '--state-dir', self.state_dir,
                '--manifest-dir', self.manifest_dir, '--metadata-dir', self.metadata_dir,
                '--config', self.config, '--flatpak-system-dir', self.flatpak_system_dir,
                '--flatpak-user-dir', self.flatpak_user_dir,
                '--flatpak-home-dir', self.flatpak_home_dir] + \
            (['--verbose'] if self.verbose else []) + self.extra_args

    def fake_flatpak_deployment(self, app_id, commit='ab' * 32):
        """A deployment of @app_id in this devbgd's system installation, laid
        out as flatpak deploys one (root-owned), and the .flatpak-info text
        that Flatpak writes for a sandbox of it."""
        deploy = os.path.join(self.flatpak_system_dir, 'app', app_id, 'x86_64', 'stable', commit)
        os.makedirs(os.path.join(deploy, 'files'), exist_ok=True)
        open(os.path.join(deploy, 'deploy'), 'w').close()
        return ('[Application]\nname=%s\nruntime=runtime/x/y/z\n\n[Instance]\n'
                'app-path=%s/files\napp-commit=%s\narch=x86_64\nbranch=stable\n'
                % (app_id, deploy, commit))

    def start(self, wait=True):
        self.log = open(self.log_path, 'a')
        env = self.bus.env()
        env['DEVBG_SYSFS_ROOT'] = self.sysfs_root
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env)
        if wait:
            wait_for(lambda: self.owns_name() or self.proc.poll() is not None,
                     what='devbgd to own its name')
            if self.proc.poll() is not None:
                raise AssertionError('devbgd exited at start:\n' + self.read_log())
        return self

    def owns_name(self):
        r = subprocess.run(['dbus-send', '--system', '--print-reply', '--dest=org.freedesktop.DBus',
                            '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner',
                            'string:org.devbg.Devbg1'], env=self.bus.env(),
                           capture_output=True, text=True)
        return 'boolean true' in r.stdout

    def stop(self):
        """SIGTERM, and the service must exit cleanly."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(15)
        self.proc = None
        self.log.close()
        return rc

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(15)
            self.proc = None
            self.log.close()

    def remove_cgroups(self):
        """After the service stopped: its (empty) task cgroups go."""
        if self.cgroup_parent is None or not os.path.isdir(self.cgroup_parent):
            return
        for d in os.listdir(self.cgroup_parent):
            path = os.path.join(self.cgroup_parent, d)
            if os.path.isdir(path):
                try:
                    os.rmdir(path)
                except OSError:
                    with open(os.path.join(path, 'cgroup.kill'), 'w') as f:
                        f.write('1')
                    wait_for(lambda: self._try_rmdir(path), what='cgroup %s to empty' % path)
        os.rmdir(self.cgroup_parent)

    @staticmethod
    def _try_rmdir(path):
        try:
            os.rmdir(path)
            return True
        except OSError:
            return False

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def write_manifest(self, filename, text):
        with open(os.path.join(self.manifest_dir, filename), 'w') as f:
            f.write(text)

    def write_metadata(self, filename, text):
        with open(os.path.join(self.metadata_dir, filename), 'w') as f:
            f.write(text)


def manifest_xml(app_id, executable, entry_points, devices=SIM_DEVICE_CAPABILITIES,
                 display_name=None):
    """entry_points: list of (name, task_types, host executable); devices:
    the <Capabilities> content (by default devbg-sim's devices);
    display_name: the app's <VisualElements DisplayName>, if any."""
    exts = []
    for name, types, host in entry_points:
        tasks = ''.join('<Task Type="%s"/>' % t for t in types)
        exts.append('<Extension Category="windows.backgroundTasks" EntryPoint="%s" '
                    'Executable="%s"><BackgroundTasks>%s</BackgroundTasks></Extension>'
                    % (name, host, tasks))
    exe = ' Executable="%s"' % executable if executable else ''
    caps = '<Capabilities>%s</Capabilities>\n' % devices if devices else ''
    visual = ('<VisualElements DisplayName="%s"/>\n' % xml.sax.saxutils.escape(display_name, {'"': '&quot;'})
              if display_name else '')
    return '<Application Id="%s"%s>\n%s<Extensions>\n%s\n</Extensions>\n%s</Application>\n' % (
        app_id, exe, visual, '\n'.join(exts), caps)


def packed_record(fields):
    """One packed record (lib/devbg-records.h) of @fields, as devbgd stores
    and serves it: each field's text (True/False as 1/0, numbers in
    decimal) in UTF-8, ended by a NUL."""
    return b''.join((str(int(f)) if isinstance(f, bool) else str(f)).encode() + b'\0'
                    for f in fields)


def unpack_records(page, n_fields):
    """The raw fields of one packed page (its bytes) and its records of
    @n_fields fields, each repeat mark (the field b'\\xff') replaced by the
    field above it: the interface file's recipe."""
    raw = bytes(page).split(b'\0')[:-1]
    fields = list(raw)
    for i, f in enumerate(fields):
        if f == b'\xff':
            fields[i] = fields[i - n_fields]
    return raw, [fields[i:i + n_fields] for i in range(0, len(fields), n_fields)]


DEVICES_PAGE_TYPE = 'a(sa{sv})'


def decode_devices_page(data):
    """[(id, {property: value})] of one ListDevices page (its bytes: a
    serialized a(sa{sv}), little-endian, normal form), checked as libdevbg
    checks it."""
    from gi.repository import GLib
    page = GLib.Variant.new_from_bytes(GLib.VariantType(DEVICES_PAGE_TYPE),
                                       GLib.Bytes.new(bytes(data)), False)
    assert page.is_normal_form(), 'ListDevices page of %d bytes not in normal form' % len(data)
    if sys.byteorder == 'big':
        page = page.byteswap()
    return page.unpack()


def list_devices(conn, pages=None, timeout_ms=10000):
    """Every device devbgd lists to @conn (a Gio.DBusConnection, or a
    PrivateBus to connect to), page after page of ListDevices:
    [(id, {property: value})] in ID order. Each page's
    (size in bytes, [ids], next_continuation) is appended to @pages when
    given. Fails when a page does not advance."""
    from gi.repository import Gio, GLib
    if not isinstance(conn, Gio.DBusConnection):
        conn = Gio.DBusConnection.new_for_address_sync(
            conn.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    devices, continuation = [], ''
    while True:
        reply = conn.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1',
                               'org.devbg.Devbg1.Devices', 'ListDevices',
                               GLib.Variant('(s)', (continuation,)), GLib.VariantType('(ays)'),
                               Gio.DBusCallFlags.NONE, timeout_ms, None)
        data = reply.get_child_value(0).get_data_as_bytes().get_data()
        entries = decode_devices_page(data)
        following = reply.get_child_value(1).get_string()
        if pages is not None:
            pages.append((len(data), [e[0] for e in entries], following))
        devices.extend(entries)
        if not following:
            return devices
        assert entries and following == entries[-1][0], \
            'ListDevices page does not advance: next %r after %r' % (following, entries)
        continuation = following


def insert_history(db_path, rows):
    """Appends finished instances to the history table of devbgd's database
    at @db_path (schema 5, src/daemon/devbg-store.c), oldest first: each row
    the DEVBG_HISTORY_FIELDS in their order (instance ID, task ID, app ID,
    name, entry point, trigger, device ID, uid, started-us, finished-us,
    success, error, cancel reason)."""
    _insert_records(db_path, 'history', ('instance_id', 'uid', 'app_id', 'finished_us'),
                    [(r[0], r[7], r[2], r[9], packed_record(r)) for r in rows])


def _insert_records(db_path, table, columns, rows):
    """Appends @rows (@columns' values, then the record) to @table, each at
    the next list position (seq), as devbgd does."""
    import sqlite3
    db = sqlite3.connect(db_path)
    last = db.execute('SELECT coalesce(max(seq), 0) FROM %s' % table).fetchone()[0]
    db.executemany('INSERT INTO %s (seq, %s, record) VALUES (?, %s)'
                   % (table, ', '.join(columns), ', '.join('?' * (len(columns) + 1))),
                   [(last + 1 + i,) + tuple(row) for i, row in enumerate(rows)])
    db.commit()
    db.close()


def insert_events(db_path, rows):
    """Appends pending completion events to devbgd's database at @db_path,
    oldest first: each row (uid, app ID, the DEVBG_EVENT_FIELDS in their
    order: event ID, task ID, instance ID, success, error, cancel reason,
    finished-us)."""
    _insert_records(db_path, 'events', ('event_id', 'uid', 'app_id'),
                    [(fields[0], uid, app, packed_record(fields)) for uid, app, fields in rows])


def event_fields(db_path, instance_id):
    """The fields of the pending event of @instance_id in devbgd's database
    at @db_path, as strings, or None when there is none."""
    import sqlite3
    db = sqlite3.connect(db_path)
    try:
        for (record,) in db.execute('SELECT record FROM events'):
            fields = bytes(record).decode().split('\0')[:-1]
            if fields[2] == instance_id:
                return fields
        return None
    finally:
        db.close()


# The end of a fake simulator, a `python3 -c` program whose XML (the
# org.devbg.Sim1 interface it has) and call(conn, sender, path, iface,
# method, params, invocation) come first: serves them as org.devbg.Sim1 on
# the bus at argv[1] and prints "ready" once it owns the name.
FAKE_SIM_SERVE = r'''
conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)
conn.register_object('/org/devbg/Sim1', Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0],
                     call, None, None)
loop = GLib.MainLoop()
Gio.bus_own_name_on_connection(conn, 'org.devbg.Sim1', Gio.BusNameOwnerFlags.DO_NOT_QUEUE,
                               lambda *a: print('ready', flush=True), lambda *a: loop.quit())
loop.run()
'''


class TestApp:
    """A copy of devbg-test-client at its own path: an app by executable."""

    def __init__(self, tmpdir, name):
        d = os.path.join(tmpdir, 'apps')
        os.makedirs(d, exist_ok=True)
        os.chmod(tmpdir, 0o755)
        os.chmod(d, 0o755)
        self.path = os.path.join(d, name)
        shutil.copy2(TEST_CLIENT, self.path)

    def run(self, bus, *args, prefix=(), user=None):
        cmd = list(prefix) + [self.path] + [str(a) for a in args]
        if user is not None:
            cmd = ['setpriv', '--reuid=%d' % user, '--regid=%d' % user, '--clear-groups'] + cmd
        r = subprocess.run(cmd, env=bus.env(), capture_output=True, text=True, timeout=30)
        lines = r.stdout.splitlines()
        if not lines:
            raise AssertionError('%s printed nothing (rc %d): %s' % (cmd, r.returncode, r.stderr))
        return lines

    def ok(self, bus, *args, **kw):
        lines = self.run(bus, *args, **kw)
        if not lines[0].startswith('OK'):
            raise AssertionError('%s failed: %s' % (args, lines[0]))
        return lines

    def error(self, bus, *args, **kw):
        """The D-Bus error name of a call that must fail."""
        lines = self.run(bus, *args, **kw)
        if not lines[0].startswith('ERROR '):
            raise AssertionError('%s succeeded, expected an error: %s' % (args, lines))
        return lines[0].split(' ', 2)[1], lines[0]


class DevbgSim:
    """devbg-sim on the private bus (a band0 and a dock0 unless @args say
    otherwise); ctl() drives it like `devbg-sim ctl`."""

    def __init__(self, bus, tmpdir, args=()):
        self.bus = bus
        self.log_path = os.path.join(tmpdir, 'devbg-sim.log')
        self.args = list(args)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([DEVBG_SIM, '--bus-address', self.bus.address] + self.args,
                                     stdout=subprocess.PIPE, stderr=open(self.log_path, 'a'),
                                     text=True)
        if self.proc.stdout.readline().strip() != 'ready':
            raise AssertionError('devbg-sim did not start: ' + open(self.log_path).read())
        return self

    def ctl(self, *args):
        r = subprocess.run([DEVBG_SIM, 'ctl', '--bus-address', self.bus.address] +
                           [str(a) for a in args], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError('devbg-sim ctl %s: %s' % (args, r.stderr))
        return r.stdout

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class DevbgTestCase(unittest.TestCase):
    """Each test gets a fresh bus, directory and devbgd (not yet started)."""
    config = ''
    bus_config = ''  # extra bus configuration, such as <limit> elements
    permissive = True  # see Devbgd

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix='devbg-test-')
        os.chmod(self.tmpdir, 0o755)
        self.bus = PrivateBus(self.tmpdir, self.bus_config)
        self.devbgd = Devbgd(self.bus, self.tmpdir, self.config, permissive=self.permissive)

    def tearDown(self):
        if self.devbgd.proc is not None:
            rc = self.devbgd.stop()
            if rc != 0:
                print(self.devbgd.read_log())
        self.devbgd.remove_cgroups()
        # Under the sanitizer build, a report in devbgd's log fails the test.
        if os.path.exists(self.devbgd.log_path):
            log = self.devbgd.read_log()
            if 'Sanitizer' in log or 'runtime error:' in log:
                self.bus.stop()
                self.fail('devbgd: sanitizer report:\n' + log[log.find('=='):][:4000])
        self.bus.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def copy_tasks(self, *sources):
        """Copies of the task executables @sources in TMPDIR/tasks (written
        by root only, as a manifest's trusted Executable is); their paths,
        in order."""
        tasks = os.path.join(self.tmpdir, 'tasks')
        os.makedirs(tasks, exist_ok=True)
        os.chmod(tasks, 0o755)
        paths = []
        for src in sources:
            paths.append(os.path.join(tasks, os.path.basename(src)))
            shutil.copy2(src, paths[-1])
        return paths

    def devbgctl(self, *args, check=True, user=None):
        """devbgctl @args on the test bus, as root or as @user."""
        cmd = [DEVBGCTL] + list(args)
        if user is not None:
            cmd = ['setpriv', '--reuid=%d' % user, '--regid=%d' % user, '--clear-groups'] + cmd
        r = subprocess.run(cmd, env=self.bus.env(), capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError('devbgctl %s failed (%d): %s' % (args, r.returncode, r.stderr))
        return r
