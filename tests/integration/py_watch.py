# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run by test_python.py inside the app's scope: the tools' view of tasks
through libdevbg (list, watch, history) against the real devbgd.

usage: py_watch.py DEVICE
Prints one line per check; the last is DONE."""
import sys

import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg, GLib  # noqa: E402

ctx = GLib.MainContext.default()


def iterate_until(predicate):
    while not predicate():
        ctx.iteration(True)


def main():
    device = sys.argv[1]
    client = Devbg.Client.new_sync(None)
    changed, ended = [], []
    client.connect('task-changed', lambda c, t: changed.append(t))
    client.connect('task-ended', lambda c, t: ended.append(t))
    assert len(client.watch_tasks_sync(None)) == 0
    trigger = Devbg.use_trigger_new()
    builder = Devbg.TaskBuilder.new()
    builder.set_name('watched')
    builder.set_task_entry_point('PyTest.CancelWait')
    builder.set_trigger(trigger)
    reg = builder.register_sync(client, None)
    result, reason, instance = trigger.request_sync(reg, device, 'fd', 0, None)
    assert result == Devbg.TriggerResult.ALLOWED, reason

    iterate_until(lambda: any(t.get_instance_id() == instance and t.get_state() == 'running'
                              for t in changed))
    running = [t for t in changed if t.get_state() == 'running'][-1]
    assert running.get_name() == 'watched' and running.get_device_id() == device
    assert running.get_limit_s() > 0 and running.get_started_us() > 0
    assert not running.get_finished()
    # The same as GObject properties, for bindings.
    assert (running.props.instance_id, running.props.trigger_type, running.props.limit_s,
            running.props.finished) == (instance, Devbg.TriggerType.USE,
                                        running.get_limit_s(), False)
    assert running.props.properties.unpack()['name'] == 'watched'
    print('CHANGED running %s limit %d' % (instance, running.get_limit_s()))

    listed = {t.get_instance_id(): t for t in client.list_tasks_sync(None)}
    assert listed[instance].get_trigger_type() == Devbg.TriggerType.USE, listed

    client.cancel_sync(instance, None)
    iterate_until(lambda: ended)
    end = ended[0]
    assert end.get_instance_id() == instance and end.get_finished()
    assert not end.get_success() and end.get_cancel_reason() == 'abort', end.get_properties()
    assert any(t.get_state() == 'canceling' for t in changed), [t.get_state() for t in changed]
    print('ENDED %s %s' % (instance, end.get_error_message()))

    history, next_page = client.get_history_sync(10, None, None)
    assert history[0].get_instance_id() == instance, [h.get_instance_id() for h in history]
    assert history[0].get_finished() and history[0].get_cancel_reason() == 'abort'
    assert isinstance(next_page, str)
    print('HISTORY %d' % len(history))
    print('DONE')


if __name__ == '__main__':
    main()
