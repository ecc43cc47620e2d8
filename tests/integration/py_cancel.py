# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run by test_python.py inside the app's scope: requests ENTRY_POINT
(PyTest.KeepAlive) with ARGUMENTS on DEVICE, cancels the instance once it runs, and prints the completion's
error message and check_result()'s, one a line:
    MESSAGE <completion error message>
    CHECK <check_result() error message>"""
import sys

import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg, GLib  # noqa: E402


def main():
    device = sys.argv[1]
    entry_point = sys.argv[2] if len(sys.argv) > 2 else 'PyTest.KeepAlive'
    arguments = sys.argv[3] if len(sys.argv) > 3 else 'seconds=20 keepalive=1'
    loop = GLib.MainLoop()
    client = Devbg.Client.new_sync(None)
    trigger = Devbg.use_trigger_new()
    builder = Devbg.TaskBuilder.new()
    builder.set_name('to-cancel')
    builder.set_task_entry_point(entry_point)
    builder.set_trigger(trigger)
    reg = builder.register_sync(client, None)
    state = {}

    def on_progress(reg, instance_id, progress):
        pass

    def on_completed(reg, completion):
        print('MESSAGE %s' % completion.get_error_message())
        try:
            completion.check_result()
            print('CHECK none')
        except GLib.Error as e:
            print('CHECK %s' % e.message)
        loop.quit()

    def cancel():
        client.cancel_async(state['instance'], None, lambda c, r: c.cancel_finish(r))
        return False

    reg.connect('progress', on_progress)
    reg.connect('completed', on_completed)
    result, reason, instance = trigger.request_sync(reg, device, arguments, 0, None)
    assert result == Devbg.TriggerResult.ALLOWED, reason
    state['instance'] = instance
    GLib.timeout_add(500, cancel)
    loop.run()


if __name__ == '__main__':
    main()
