# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs devbgd as systemd does, its stderr a stream to journald, without
--verbose, in a mount namespace of its own where a fake journald listens
on a tmpfs over /run/systemd/journal; makes N GetStatus calls and prints
the journal messages devbgd sent at its start and during the calls, by
priority, as JSON.

usage (as root): journal_probe.py N   (re-executes itself under unshare -m)"""
import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

if os.environ.get('DEVBG_JOURNAL_PROBE_NS') != '1':
    os.environ['DEVBG_JOURNAL_PROBE_NS'] = '1'
    os.execvp('unshare', ['unshare', '-m', '--propagation', 'private', sys.executable] + sys.argv)

os.makedirs('/run/systemd/journal', exist_ok=True)
subprocess.run(['mount', '-t', 'tmpfs', 'none', '/run/systemd/journal'], check=True)
counts = collections.Counter()
datagrams = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
datagrams.bind('/run/systemd/journal/socket')
streams = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
streams.bind('/run/systemd/journal/stdout')
streams.listen(8)


def receive():
    while True:
        fields = datagrams.recv(1 << 20).split(b'\n')
        priority = [f for f in fields if f.startswith(b'PRIORITY=')]
        counts[priority[0][9:].decode() if priority else '?'] += 1


def accept():
    while True:
        conn, _ = streams.accept()
        threading.Thread(target=lambda: [None for _ in iter(lambda: conn.recv(65536), b'')],
                         daemon=True).start()


threading.Thread(target=receive, daemon=True).start()
threading.Thread(target=accept, daemon=True).start()

from devbgtest import PrivateBus, Devbgd, TestApp, wait_for  # noqa: E402

tmpdir = tempfile.mkdtemp(prefix='devbg-journal-')
os.chmod(tmpdir, 0o755)
bus = PrivateBus(tmpdir)
devbgd = Devbgd(bus, tmpdir, verbose=False)
stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
stream.connect('/run/systemd/journal/stdout')
env = bus.env()
env['DEVBG_SYSFS_ROOT'] = devbgd.sysfs_root
devbgd.proc = subprocess.Popen(devbgd.args(), stdout=subprocess.DEVNULL, stderr=stream.fileno(),
                               env=env)
try:
    wait_for(devbgd.owns_name, what='devbgd')
    time.sleep(0.5)
    at_start = dict(counts)
    counts.clear()
    app = TestApp(tmpdir, 'app')
    app.run(bus, 'repeat', sys.argv[1], 'GetStatus', '()')
    time.sleep(0.5)
    print(json.dumps({'start': at_start, 'calls': dict(counts)}))
finally:
    devbgd.proc.terminate()
    devbgd.proc.wait(10)
    bus.stop()
