# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""python-dbusmock template: a D-Bus service shaped like avahi-daemon's
(org.freedesktop.Avahi; avahi-daemon is not installed on the CI machine),
with the part devbgd uses: Server.ServiceBrowserNew, whose browser emits
ItemNew/ItemRemove for the services of its type, and Server.ResolveService.
The test announces and withdraws services with org.freedesktop.Avahi.Mock
AddService/RemoveService, as a device's mDNS responder would on the link.

Load with `python3 -m dbusmock --system --template THIS_FILE`.
"""
import dbus
from gi.repository import GLib

from dbusmock import mockobject

BUS_NAME = 'org.freedesktop.Avahi'
MAIN_OBJ = '/'
MAIN_IFACE = 'org.freedesktop.Avahi.Server'
SYSTEM_BUS = True

MOCK = 'org.freedesktop.Avahi.Mock'
BROWSER_IFACE = 'org.freedesktop.Avahi.ServiceBrowser'
PROTO_INET = 0

SERVICES = {}   # (name, type) -> (ifindex, address, port, host)
BROWSERS = []   # (path, type)


def load(mock, parameters):
    mock.AddMethods(MAIN_IFACE, [
        ('GetVersionString', '', 's', 'ret = "avahi 0.8 (devbg test)"'),
        ('ServiceBrowserNew', 'iissu', 'o', _browser_new),
        ('ResolveService', 'iisssiu', 'iissssisqaayu', _resolve),
    ])


def _item(signal, name, type_):
    ifindex = SERVICES.get((name, type_), (-1,))[0]
    for path, btype in BROWSERS:
        if btype == type_:
            mockobject.objects[path].EmitSignal(BROWSER_IFACE, signal, 'iisssu',
                                                [ifindex, PROTO_INET, name, type_, 'local', 0])
    return False


def _browser_new(self, interface, protocol, type_, domain, flags):
    path = '/Client1/ServiceBrowser%d' % (len(BROWSERS) + 1)
    self.AddObject(path, BROWSER_IFACE, {}, [('Free', '', '', '')])
    BROWSERS.append((path, str(type_)))
    # Like avahi-daemon: the cache's items come after the reply.
    for (name, t) in list(SERVICES):
        if t == type_:
            GLib.timeout_add(20, _item, 'ItemNew', name, t)
    return dbus.ObjectPath(path)


def _resolve(self, interface, protocol, name, type_, domain, aprotocol, flags):
    found = SERVICES.get((str(name), str(type_)))
    if found is None:
        raise dbus.exceptions.DBusException('Timeout reached', name='org.freedesktop.Avahi.TimeoutError')
    ifindex, address, port, host = found
    return (dbus.Int32(ifindex), dbus.Int32(PROTO_INET), name, type_, domain, host,
            dbus.Int32(PROTO_INET), address, dbus.UInt16(port), dbus.Array([], signature='ay'),
            dbus.UInt32(0))


@dbus.service.method(MOCK, in_signature='ssisq', out_signature='')
def AddService(self, name, type_, ifindex, address, port):
    SERVICES[(str(name), str(type_))] = (int(ifindex), str(address), int(port),
                                        str(name).replace(' ', '-') + '.local')
    _item('ItemNew', str(name), str(type_))


@dbus.service.method(MOCK, in_signature='ss', out_signature='')
def RemoveService(self, name, type_):
    _item('ItemRemove', str(name), str(type_))
    SERVICES.pop((str(name), str(type_)), None)
