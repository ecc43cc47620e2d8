# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run by test_python.py inside the app's scope: the seed's "remove the
leftover registration, then register" pattern.

usage: py_leftover.py leave DEVICE   registers 'leftover', requests
           PyTest.Chatty on DEVICE, detaches the instance and exits before
           it completes: its completion stays pending in devbgd.
           Prints INSTANCE <id>.
       py_leftover.py clean [handler]   finds 'leftover' and unregisters
           it (with a "completed" handler connected first when 'handler'),
           runs the main loop a while, then asks devbgd for the pending
           events. Prints DELIVERED <instance> for a delivered completion
           and PENDING <n>."""
import sys

import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg, GLib  # noqa: E402


def leave(device):
    client = Devbg.Client.new_sync(None)
    trigger = Devbg.use_trigger_new()
    builder = Devbg.TaskBuilder.new()
    builder.set_name('leftover')
    builder.set_task_entry_point('PyTest.Chatty')
    builder.set_trigger(trigger)
    reg = builder.register_sync(client, None)
    result, reason, instance = trigger.request_sync(reg, device, '', 0, None)
    assert result == Devbg.TriggerResult.ALLOWED, reason
    client.detach_sync(instance, None)
    print('INSTANCE %s' % instance)


def pending_count(client):
    """The events on WatchEvents' first page: packed, 7 fields a record."""
    reply = client.get_connection().call_sync(
        'org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager', 'WatchEvents',
        None, GLib.VariantType('(ays)'), 0, -1, None)
    fields = bytes(reply.unpack()[0]).split(b'\0')[:-1]
    assert len(fields) % 7 == 0, fields
    return len(fields) // 7


def clean(with_handler):
    client = Devbg.Client.new_sync(None)
    reg = client.find_task_sync('leftover', None)
    if with_handler:
        reg.connect('completed',
                    lambda r, c: print('DELIVERED %s' % c.get_instance_id(), flush=True))
    reg.unregister_sync(False, None)
    loop = GLib.MainLoop()
    GLib.timeout_add(1500, loop.quit)
    loop.run()
    print('PENDING %d' % pending_count(client))


def quick(device):
    """Requests, takes the completion and quits at once, as a small app
    does: the acknowledgement must still reach devbgd."""
    client = Devbg.Client.new_sync(None)
    trigger = Devbg.use_trigger_new()
    builder = Devbg.TaskBuilder.new()
    builder.set_name('quick')
    builder.set_task_entry_point('PyTest.Chatty')
    builder.set_trigger(trigger)
    reg = builder.register_sync(client, None)
    loop = GLib.MainLoop()
    reg.connect('completed', lambda r, c: loop.quit())
    result, reason, instance = trigger.request_sync(reg, device, '', 0, None)
    assert result == Devbg.TriggerResult.ALLOWED, reason
    loop.run()
    # Quit right after the handler: the acknowledgement was only queued.
    del reg, builder, client
    print('QUIT')


def pending():
    client = Devbg.Client.new_sync(None)
    print('PENDING %d' % pending_count(client))


if __name__ == '__main__':
    if sys.argv[1] == 'leave':
        leave(sys.argv[2])
    elif sys.argv[1] == 'quick':
        quick(sys.argv[2])
    elif sys.argv[1] == 'pending':
        pending()
    else:
        clean(len(sys.argv) > 2 and sys.argv[2] == 'handler')
