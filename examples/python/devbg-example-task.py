#!/usr/bin/python3
# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A task written in Python: devbgd starts this script (the manifest's
Executable) for one task instance, with the device on fd 3.

    PyExample.SyncBand   device use: reads devbg-sim's fitness band's
        activity records in chunks (sim/README.md), checks each chunk's
        CRC-32, acknowledges it and appends the records to out=FILE when
        given. Progress: percent of the records pending at the start.
        Arguments: chunk=N (records per READ, default 50), out=FILE.

It stops between chunks when canceled, and completes with an error that
says what went wrong."""

import socket
import sys
import zlib

import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg  # noqa: E402


class TaskError(Exception):
    pass


def parse_arguments(text):
    return dict(w.split('=', 1) for w in text.split() if '=' in w)


class Band:
    def __init__(self, fd):
        # The socket object takes the fd: closing it gives the device up.
        self.sock = socket.socket(fileno=fd)
        self.sock.settimeout(15)
        self.reader = self.sock.makefile('rb')

    def ask(self, line):
        self.sock.sendall(line.encode() + b'\n')
        return self.readline()

    def readline(self):
        line = self.reader.readline()
        if not line:
            raise TaskError('the band closed the channel')
        return line.decode().rstrip('\n')


def sync_band(task):
    args = parse_arguments(task.get_arguments())
    chunk = int(args.get('chunk', '50'))
    band = Band(task.get_device_fd())
    hello = band.ask('HELLO').split()
    if hello[:2] != ['BAND', '1']:
        raise TaskError('not a band: %r' % ' '.join(hello))
    pending = int(hello[2].split('=')[1])
    done = 0
    out = open(args['out'], 'a') if 'out' in args else None
    task.report_progress(0)
    while not task.is_canceled():
        head = band.ask('READ %d' % chunk).split()
        if head[0] != 'CHUNK':
            raise TaskError('the band answered %r' % ' '.join(head))
        first, count, crc = int(head[1]), int(head[2]), int(head[3], 16)
        if count == 0:
            break
        lines = [band.readline() + '\n' for _ in range(count)]
        if zlib.crc32(''.join(lines).encode()) != crc:
            raise TaskError('chunk at record %d: CRC mismatch' % first)
        if out is not None:
            out.writelines(lines)
            out.flush()
        band.ask('ACK %d' % (first + count - 1))
        done += count
        task.report_progress(min(100, done * 100 // max(pending, 1)))
    if task.is_canceled():
        # devbgd's completion message says "canceled (<reason>)" already.
        raise TaskError('stopped after %d of %d records' % (done, pending))
    task.report_progress(100)


ENTRY_POINTS = {'PyExample.SyncBand': sync_band}


def run(task):
    entry = ENTRY_POINTS.get(task.get_entry_point())
    try:
        if entry is None:
            raise TaskError('no entry point %s here' % task.get_entry_point())
        entry(task)
    except (TaskError, OSError, ValueError, IndexError) as e:
        task.complete(False, str(e))


if __name__ == '__main__':
    sys.exit(Devbg.task_run(run))
