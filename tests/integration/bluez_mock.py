# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""python-dbusmock template: its bluez5 template, with what a Bluetooth
backend needs and bluez5 lacks (TESTING-NOTES.md):

- org.bluez.ProfileManager1.RegisterProfile that remembers the caller;
- org.bluez.Device1.ConnectProfile that, like bluetoothd, calls the
  registered profile's NewConnection(device, fd, {}) with one end of a
  socketpair and answers only after NewConnection returned; the other end
  is kept for the test (TakePeer);
- GATT services and characteristics (AddGattService) with ReadValue,
  WriteValue and StartNotify (a PropertiesChanged on Value shortly after).

Load with `python3 -m dbusmock --system --template THIS_FILE`.
"""
import os
import socket

import dbus
from gi.repository import GLib

from dbusmock import mockobject
from dbusmock.templates import bluez5
from dbusmock.templates.bluez5 import *  # noqa: F401,F403 (AddAdapter, AddDevice, ...)

BUS_NAME = bluez5.BUS_NAME
MAIN_OBJ = bluez5.MAIN_OBJ
SYSTEM_BUS = True
IS_OBJECT_MANAGER = True

MOCK = 'org.bluez.Mock'
DEVICE_IFACE = 'org.bluez.Device1'
SERVICE_IFACE = 'org.bluez.GattService1'
CHAR_IFACE = 'org.bluez.GattCharacteristic1'

PROFILES = {}  # uuid -> (unique name, object path)
PEERS = {}     # (device path, uuid) -> our end of the socketpair
STATE = {'bus': None}


def load(mock, parameters):
    bluez5.load(mock, parameters)
    # Real dbus-python methods, which see their caller: dbusmock dispatches
    # to the fourth member of a method's entry.
    mockobject.objects['/org/bluez'].methods[bluez5.PROFILE_MANAGER_IFACE] = {
        'RegisterProfile': ('osa{sv}', '', None, RegisterProfile),
        'UnregisterProfile': ('o', '', None, UnregisterProfile),
    }


@dbus.service.method(bluez5.PROFILE_MANAGER_IFACE, in_signature='osa{sv}', out_signature='',
                     sender_keyword='sender')
def RegisterProfile(self, path, uuid, options, sender=None):
    uuid = str(uuid).lower()
    if uuid in PROFILES:
        raise dbus.exceptions.DBusException('UUID already registered',
                                            name='org.bluez.Error.AlreadyExists')
    PROFILES[uuid] = (str(sender), str(path))
    self.log('RegisterProfile %s %s by %s' % (path, uuid, sender))


@dbus.service.method(bluez5.PROFILE_MANAGER_IFACE, in_signature='o', out_signature='',
                     sender_keyword='sender')
def UnregisterProfile(self, path, sender=None):
    for uuid, (owner, p) in list(PROFILES.items()):
        if owner == sender and p == path:
            del PROFILES[uuid]


@dbus.service.method(DEVICE_IFACE, in_signature='s', out_signature='',
                     async_callbacks=('reply', 'error'))
def ConnectProfile(self, uuid, reply, error):
    uuid = str(uuid).lower()
    if uuid not in PROFILES:
        error(dbus.exceptions.DBusException('no profile for ' + uuid,
                                            name='org.bluez.Error.NotAvailable'))
        return
    if not self.props[DEVICE_IFACE]['Connected']:
        error(dbus.exceptions.DBusException('Not connected', name='org.bluez.Error.Failed'))
        return
    owner, path = PROFILES[uuid]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    PEERS[(self.path, uuid)] = ours
    bus = self.connection  # the connection that owns org.bluez
    fd = dbus.types.UnixFd(theirs)  # a duplicate
    theirs.close()
    self.log('NewConnection %s %s -> %s %s' % (self.path, uuid, owner, path))
    # Like bluetoothd: ConnectProfile is answered once NewConnection returned.
    bus.call_async(owner, path, 'org.bluez.Profile1', 'NewConnection', 'oha{sv}',
                   (dbus.ObjectPath(self.path), fd, {}),
                   lambda *a: reply(), lambda e: error(e))


@dbus.service.method(MOCK, in_signature='ss', out_signature='h')
def TakePeer(self, device_path, uuid):
    """The test's end of the last connection to @uuid on @device_path."""
    sock = PEERS.pop((str(device_path), str(uuid).lower()), None)
    if sock is None:
        raise dbus.exceptions.DBusException('no connection', name=MOCK + '.NoConnection')
    fd = dbus.types.UnixFd(sock)
    sock.close()
    return fd


@dbus.service.method(MOCK, in_signature='ssas', out_signature='')
def SetupDevice(self, device_path, modalias, uuids):
    """Sets a device's Modalias and UUIDs (bluez5's PairDevice leaves an
    empty Modalias) and lets its ConnectProfile be ours."""
    dev = mockobject.objects[str(device_path)]
    dev.methods[DEVICE_IFACE]['ConnectProfile'] = ('s', '', None, ConnectProfile)
    changed = {'Modalias': dbus.String(modalias, variant_level=1),
               'UUIDs': dbus.Array([str(u) for u in uuids], signature='s', variant_level=1)}
    dev.props[DEVICE_IFACE].update(changed)
    dev.EmitSignal(dbus.PROPERTIES_IFACE, 'PropertiesChanged', 'sa{sv}as',
                   [DEVICE_IFACE, changed, []])


def _emit_value(obj, value):
    obj.props[CHAR_IFACE]['Value'] = dbus.Array(value, signature='y', variant_level=1)
    obj.EmitSignal(dbus.PROPERTIES_IFACE, 'PropertiesChanged', 'sa{sv}as',
                   [CHAR_IFACE, {'Value': obj.props[CHAR_IFACE]['Value']}, []])
    return False


def _read_value(obj, options):
    obj.reads = getattr(obj, 'reads', 0) + 1
    return dbus.Array(obj.props[CHAR_IFACE]['Value'], signature='y')


def _write_value(obj, value, options):
    obj.props[CHAR_IFACE]['Value'] = dbus.Array(value, signature='y', variant_level=1)
    obj.writes = getattr(obj, 'writes', []) + [bytes(value)]


def _start_notify(obj):
    # The first notification comes after the reply, as from a device.
    GLib.timeout_add(50, _emit_value, obj, list(obj.notify_value))


@dbus.service.method(MOCK, in_signature='sssa(ssay)', out_signature='s')
def AddGattService(self, device_path, index, uuid, characteristics):
    """A primary service and its characteristics (uuid, flags joined by
    ',', initial value); a notifying characteristic notifies its value
    again once notifications are started."""
    path = '%s/service%s' % (device_path, index)
    self.AddObject(path, SERVICE_IFACE, {
        'UUID': dbus.String(uuid, variant_level=1),
        'Device': dbus.ObjectPath(device_path, variant_level=1),
        'Primary': dbus.Boolean(True, variant_level=1),
    }, [])
    for i, (cuuid, flags, value) in enumerate(characteristics):
        cpath = '%s/char%04x' % (path, i + 1)
        self.AddObject(cpath, CHAR_IFACE, {
            'UUID': dbus.String(cuuid, variant_level=1),
            'Service': dbus.ObjectPath(path, variant_level=1),
            'Value': dbus.Array(bytes(value), signature='y', variant_level=1),
            'Flags': dbus.Array(flags.split(','), signature='s', variant_level=1),
        }, [
            ('ReadValue', 'a{sv}', 'ay', _read_value),
            ('WriteValue', 'aya{sv}', '', _write_value),
            ('StartNotify', '', '', _start_notify),
            ('StopNotify', '', '', ''),
        ])
        mockobject.objects[cpath].notify_value = bytes(value)
    return path


@dbus.service.method(MOCK, in_signature='s', out_signature='aay')
def GetWrites(self, char_path):
    return [dbus.ByteArray(w) for w in getattr(mockobject.objects[str(char_path)], 'writes', [])]
