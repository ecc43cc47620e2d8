# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run by test_python.py as a tool (no app): watches every task it may see
and prints one line per event, flushed: READY once watching, then
CHANGED <instance> <state> and ENDED <instance> <ok|failed>. Runs until
killed."""
import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg, GLib  # noqa: E402


def main():
    client = Devbg.Client.new_sync(None)
    client.connect('task-changed', lambda c, t: print(
        'CHANGED %s %s' % (t.get_instance_id(), t.get_state()), flush=True))
    client.connect('task-ended', lambda c, t: print(
        'ENDED %s %s' % (t.get_instance_id(), 'ok' if t.get_success() else 'failed'),
        flush=True))
    client.watch_tasks_sync(None)
    print('READY', flush=True)
    GLib.MainLoop().run()


if __name__ == '__main__':
    main()
