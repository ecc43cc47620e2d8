# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run by test_python.py inside the app's scope: every async/finish pair of
libdevbg's app side through GObject introspection, against the real devbgd,
and the main loop kept running while devbgd does not answer.

usage: py_async_calls.py DEVBGD_PID APP_ID ENTRY_POINT DEVBG_SIM BAND_ID
Prints one line per check; the last line is "DONE" when all passed."""
import os
import signal
import subprocess
import sys

import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg, GLib  # noqa: E402

ctx = GLib.MainContext.default()


def wait(start):
    """Starts an async call with a callback and iterates the main loop until
    it is called; returns (source, result)."""
    box = []
    start(lambda source, result, *rest: box.append((source, result)))
    while not box:
        ctx.iteration(True)
    return box[0]


def expect_error(code, finish):
    try:
        finish()
    except GLib.Error as e:
        assert e.matches(Devbg.error_quark(), code), (e.domain, e.code, e.message)
        return e.message
    raise AssertionError('no error, expected %s' % code)


def main():
    devbgd_pid, app_id, entry_point = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    devbg_sim, band_id = sys.argv[4], sys.argv[5]

    _, res = wait(lambda cb: Devbg.Client.new_async(None, cb))
    client = Devbg.Client.new_finish(res)

    _, res = wait(lambda cb: client.get_status_async(None, cb))
    status = client.get_status_finish(res).unpack()
    assert status['app-id'] == app_id, status
    print('STATUS %s %s' % (status['app-id'], status['identity']))
    print('STATUS-KEYS %s' % ','.join(sorted(status)))

    trigger = Devbg.use_trigger_new()
    regs = {}
    for name in ('t1', 't2', 't3'):
        builder = Devbg.TaskBuilder.new()
        builder.set_name(name)
        builder.set_task_entry_point(entry_point)
        builder.set_trigger(trigger)
        _, res = wait(lambda cb: builder.register_async(client, None, cb))
        regs[name] = builder.register_finish(res)
    # GObject properties: a builder made from them, a registration read
    # through them.
    builder = Devbg.TaskBuilder(name='t4', entry_point=entry_point,
                                trigger=Devbg.Trigger(trigger_type=Devbg.TriggerType.USE))
    reg4 = builder.register_sync(client, None)
    assert (reg4.props.name, reg4.props.entry_point, reg4.props.trigger_type) == \
        ('t4', entry_point, Devbg.TriggerType.USE), reg4.props.name
    assert reg4.props.client is client and reg4.props.task_id == reg4.get_task_id()
    assert Devbg.servicing_trigger_new().props.trigger_type == Devbg.TriggerType.SERVICING
    assert reg4.unregister_sync(False, None)
    print('PROPERTIES ok')

    builder = Devbg.TaskBuilder.new()
    builder.set_name('bad')
    builder.set_task_entry_point('Not.Declared')
    builder.set_trigger(trigger)
    _, res = wait(lambda cb: builder.register_async(client, None, cb))
    msg = expect_error(Devbg.Error.ENTRY_POINT_NOT_DECLARED, lambda: builder.register_finish(res))
    print('REGISTER-ERROR %s' % msg)

    _, res = wait(lambda cb: client.get_all_tasks_async(None, cb))
    tasks = client.get_all_tasks_finish(res)
    assert sorted(r.get_name() for r in tasks.values()) == ['t1', 't2', 't3'], tasks
    # The same live objects as register handed out.
    assert tasks[regs['t2'].get_task_id()] is regs['t2']
    print('ALL-TASKS %d' % len(tasks))

    _, res = wait(lambda cb: client.find_task_async('t2', None, cb))
    assert client.find_task_finish(res) is regs['t2']
    _, res = wait(lambda cb: client.find_task_async('none', None, cb))
    # None is an answer of its own, not mistaken for a failed call.
    msg = expect_error(Devbg.Error.NO_SUCH_REGISTRATION, lambda: client.find_task_finish(res))
    assert msg == "The app has no task named 'none'", msg
    try:
        client.find_task_sync('none', None)
        raise AssertionError('find_task_sync found a task that is not there')
    except GLib.Error as e:
        assert e.matches(Devbg.error_quark(), Devbg.Error.NO_SUCH_REGISTRATION), e
    print('FIND ok')

    for call, finish in ((client.cancel_async, client.cancel_finish),
                         (client.detach_async, client.detach_finish)):
        _, res = wait(lambda cb: call('00000000-0000-4000-8000-000000000000', None, cb))
        msg = expect_error(Devbg.Error.NO_SUCH_TASK, lambda: finish(res))
        # Checked here, before anything is sent.
        _, res = wait(lambda cb: call('', None, cb))
        expect_error(Devbg.Error.INVALID_ARGUMENT, lambda: finish(res))
        print('%s-ERROR %s' % (call.__name__.upper(), msg))

    _, res = wait(lambda cb: regs['t1'].unregister_async(True, None, cb))
    assert regs['t1'].unregister_finish(res) is True
    _, res = wait(lambda cb: client.get_all_tasks_async(None, cb))
    assert sorted(r.get_name() for r in client.get_all_tasks_finish(res).values()) == ['t2', 't3']
    print('UNREGISTER ok')

    # Devices: listed, and followed as they come and go.
    _, res = wait(lambda cb: client.list_devices_async(None, cb))
    devices = {d.get_id(): d for d in client.list_devices_finish(res)}
    band = devices[band_id]
    assert band.get_protocol() == Devbg.Protocol.USB, band.get_protocol()
    assert 'USB\\VID_1209&PID_B0A1' in band.get_hardware_ids(), band.get_hardware_ids()
    assert band.get_attached() and band.get_name() != ''
    assert band.get_properties().unpack()['backend'] == 'virtual'
    assert (band.props.id, band.props.protocol, list(band.props.hardware_ids)) == \
        (band_id, Devbg.Protocol.USB, list(band.get_hardware_ids()))
    assert sorted(d.get_id() for d in client.list_devices_sync(None)) == sorted(devices)
    events = []
    client.connect('device-added', lambda c, d: events.append(('added', d.get_id(), d.get_serial())))
    client.connect('device-removed', lambda c, i: events.append(('removed', i, None)))
    address = os.environ['DBUS_SYSTEM_BUS_ADDRESS']
    sim_id = subprocess.run([devbg_sim, 'ctl', '--bus-address', address, 'add', 'band',
                             'serial=PYSER1', 'records=3'], check=True, capture_output=True,
                            text=True).stdout.strip()
    while not events:
        ctx.iteration(True)
    kind, added_id, serial = events[0]
    assert kind == 'added' and serial == 'PYSER1' and added_id not in devices, events
    subprocess.run([devbg_sim, 'ctl', '--bus-address', address, 'remove', sim_id], check=True)
    while len(events) < 2:
        ctx.iteration(True)
    assert events[1] == ('removed', added_id, None), events
    print('DEVICES %d listed, %s came and went' % (len(devices), added_id))

    # devbgd stopped: the call waits, the main loop does not.
    ticks = []
    GLib.timeout_add(20, lambda: ticks.append(1) or True)
    os.kill(devbgd_pid, signal.SIGSTOP)
    try:
        box = []
        client.get_all_tasks_async(None, lambda s, r: box.append(r))
        while len(ticks) < 10:
            ctx.iteration(True)
        assert not box, 'devbgd answered while stopped'
    finally:
        os.kill(devbgd_pid, signal.SIGCONT)
    while not box:
        ctx.iteration(True)
    assert len(client.get_all_tasks_finish(box[0])) == 2
    print('NONBLOCKING %d ticks while devbgd was stopped' % len(ticks))
    print('DONE')


if __name__ == '__main__':
    main()
