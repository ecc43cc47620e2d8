#!/usr/bin/python3
# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A client of devbgd's list channels (OpenListChannel), run by
test_list_channel.py as a given user; prints one JSON object.

  list_channel_client.py BUS_ADDRESS compare LIMIT
      the first History and ListPermissions pages on the bus and on a
      channel, byte for byte
  list_channel_client.py BUS_ADDRESS open-many N
      opens N channels, keeping them; each one's result
  list_channel_client.py BUS_ADDRESS other-method
      GetStatus, ListTasks and OpenListChannel on a channel, then History
  list_channel_client.py BUS_ADDRESS opener-leaves
      opens a channel, closes the bus connection that opened it, then
      calls History on the channel
  list_channel_client.py BUS_ADDRESS unread CALLS
      authenticates on a channel by hand, sends CALLS History calls and
      reads nothing; prints "sent" and waits to be killed
  list_channel_client.py BUS_ADDRESS flood CALLS
      authenticates on a channel by hand, sends CALLS calls of each kind
      that has an answer (Introspect, Peer.Ping, GetStatus, History without
      its arguments, History) and reads nothing; prints how many it sent
      before devbgd closed the channel, and waits to be killed
  list_channel_client.py BUS_ADDRESS big-message MIB
      authenticates on a channel by hand, sends the start of a History
      call of MIB MiB and all of it but its last byte; prints how much it
      sent, and whether devbgd closed the channel, then waits to be killed
  list_channel_client.py BUS_ADDRESS fd-flood CHUNKS
      authenticates on a channel by hand, sends the start of a message
      that is never finished, then CHUNKS single bytes of it each with 250
      file descriptors; prints how many were sent and waits to be killed
"""
import array
import json
import os
import socket
import sys
import time

from gi.repository import Gio, GLib

BUS, COMMAND = sys.argv[1], sys.argv[2]
NAME, PATH, IFACE = 'org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager'


def connect_bus():
    return Gio.DBusConnection.new_for_address_sync(
        BUS, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)


def open_channel_fd(bus):
    reply, fds = bus.call_with_unix_fd_list_sync(
        NAME, PATH, IFACE, 'OpenListChannel', None, GLib.VariantType('(h)'),
        Gio.DBusCallFlags.NONE, -1, None, None)
    return fds.get(reply.unpack()[0])


def open_channel(bus):
    fd = open_channel_fd(bus)
    stream = Gio.Socket.new_from_fd(fd).connection_factory_create_connection()
    return Gio.DBusConnection.new_sync(stream, None,
                                       Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT, None, None)


def call(conn, name, method, args, reply_type):
    """The reply's values, or the D-Bus error's name."""
    try:
        reply = conn.call_sync(name, PATH, IFACE, method, args,
                               GLib.VariantType(reply_type) if reply_type else None,
                               Gio.DBusCallFlags.NONE, 5000, None)
        return reply.unpack()
    except GLib.Error as e:
        return Gio.DBusError.get_remote_error(e) or e.message


def history(conn, name, limit, continuation=''):
    return call(conn, name, 'History', GLib.Variant('(us)', (limit, continuation)), '(ays)')


def main():
    if COMMAND == 'compare':
        limit = int(sys.argv[3])
        bus = connect_bus()
        channel = open_channel(bus)
        out = {}
        for what, args, method in (('history', GLib.Variant('(us)', (limit, '')), 'History'),
                                   ('permissions', GLib.Variant('(s)', ('',)),
                                    'ListPermissions')):
            on_bus = call(bus, NAME, method, args, '(ays)')
            on_channel = call(channel, None, method, args, '(ays)')
            out[what] = {'bus_bytes': len(on_bus[0]), 'bus_next': on_bus[1],
                         'equal': bytes(on_bus[0]) == bytes(on_channel[0]) and
                         on_bus[1] == on_channel[1]}
            # The next page through the channel too.
            if on_bus[1]:
                args = (GLib.Variant('(us)', (limit, on_bus[1])) if method == 'History'
                        else GLib.Variant('(s)', (on_bus[1],)))
                more = call(bus, NAME, method, args, '(ays)')
                more_channel = call(channel, None, method, args, '(ays)')
                out[what]['next_equal'] = bytes(more[0]) == bytes(more_channel[0])
        print(json.dumps(out))
    elif COMMAND == 'open-many':
        bus = connect_bus()
        kept, results = [], []
        for _ in range(int(sys.argv[3])):
            try:
                kept.append(open_channel(bus))
                results.append('ok')
            except GLib.Error as e:
                results.append(Gio.DBusError.get_remote_error(e) or e.message)
        first = history(kept[0], None, 10) if kept else None
        print(json.dumps({'results': results,
                          'first_works': first is not None and not isinstance(first, str)}))
    elif COMMAND == 'other-method':
        bus = connect_bus()
        channel = open_channel(bus)
        print(json.dumps({
            'GetStatus': call(channel, None, 'GetStatus', None, None),
            'ListTasks': call(channel, None, 'ListTasks', None, None),
            'OpenListChannel': call(channel, None, 'OpenListChannel', None, None),
            'History': not isinstance(history(channel, None, 1), str)}))
    elif COMMAND == 'opener-leaves':
        bus = connect_bus()
        channel = open_channel(bus)
        before = not isinstance(history(channel, None, 1), str)
        bus.close_sync(None)
        time.sleep(0.5)
        after = history(channel, None, 1)
        print(json.dumps({'before': before, 'after': after if isinstance(after, str) else 'ok',
                          'closed': channel.is_closed()}))
    elif COMMAND == 'unread':
        bus = connect_bus()
        fd = open_channel_fd(bus)
        sock = socket.socket(fileno=fd)
        sock.sendall(b'\0AUTH ANONYMOUS\r\n')
        answer = sock.recv(256)
        if not answer.startswith(b'OK '):
            print(json.dumps({'auth': answer.decode(errors='replace')}))
            return
        sock.sendall(b'BEGIN\r\n')
        for serial in range(1, int(sys.argv[3]) + 1):
            message = Gio.DBusMessage.new_method_call(None, PATH, IFACE, 'History')
            message.set_body(GLib.Variant('(us)', (4096, '')))
            message.set_serial(serial)
            sock.sendall(message.to_blob(Gio.DBusCapabilityFlags.NONE))
        print(json.dumps({'sent': True}), flush=True)
        time.sleep(3600)
    elif COMMAND == 'flood':
        bus = connect_bus()
        sock = socket.socket(fileno=open_channel_fd(bus))
        sock.sendall(b'\0AUTH ANONYMOUS\r\nBEGIN\r\n')
        kinds = [(PATH, 'org.freedesktop.DBus.Introspectable', 'Introspect', None),
                 (PATH, 'org.freedesktop.DBus.Peer', 'Ping', None),
                 (PATH, IFACE, 'GetStatus', None),
                 (PATH, IFACE, 'History', None),
                 (PATH, IFACE, 'History', GLib.Variant('(us)', (4096, '')))]
        blobs = []
        for path, iface, method, body in kinds:
            message = Gio.DBusMessage.new_method_call(None, path, iface, method)
            if body is not None:
                message.set_body(body)
            message.set_serial(1)
            blobs.append(message.to_blob(Gio.DBusCapabilityFlags.NONE))
        sent, closed = 0, False
        try:
            for _ in range(int(sys.argv[3])):
                for blob in blobs:
                    sock.sendall(blob)
                    sent += 1
        except OSError:
            closed = True
        print(json.dumps({'sent': sent, 'closed': closed}), flush=True)
        time.sleep(3600)
    elif COMMAND == 'big-message':
        bus = connect_bus()
        sock = socket.socket(fileno=open_channel_fd(bus))
        sock.sendall(b'\0AUTH ANONYMOUS\r\nBEGIN\r\n')
        size = int(sys.argv[3]) << 20
        message = Gio.DBusMessage.new_method_call(None, PATH, IFACE, 'History')
        message.set_body(GLib.Variant('(us)', (1, 'x' * size)))
        message.set_serial(1)
        blob = message.to_blob(Gio.DBusCapabilityFlags.NONE)
        sent, closed = 0, False
        try:
            while sent < len(blob) - 1:
                sent += sock.send(blob[sent:min(sent + 65536, len(blob) - 1)])
            sock.settimeout(5)
            closed = sock.recv(4096) == b''
        except OSError:
            closed = True
        print(json.dumps({'sent_kib': sent >> 10, 'closed': closed}), flush=True)
        time.sleep(3600)
    elif COMMAND == 'fd-flood':
        bus = connect_bus()
        sock = socket.socket(fileno=open_channel_fd(bus))
        sock.sendall(b'\0AUTH ANONYMOUS\r\n')
        if not sock.recv(256).startswith(b'OK '):
            raise SystemExit('not authenticated')
        sock.sendall(b'BEGIN\r\n')
        message = Gio.DBusMessage.new_method_call(None, PATH, IFACE, 'History')
        message.set_body(GLib.Variant('(us)', (1, 'x' * 64)))
        message.set_serial(1)
        sock.sendall(message.to_blob(Gio.DBusCapabilityFlags.NONE)[:32])
        fds = array.array('i', [os.open('/dev/null', os.O_RDONLY)] * 250)
        sent = 0
        for _ in range(int(sys.argv[3])):
            sock.sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            sent += len(fds)
        print(json.dumps({'sent': sent}), flush=True)
        time.sleep(3600)
    else:
        raise SystemExit('unknown command ' + COMMAND)


if __name__ == '__main__':
    main()
