#!/usr/bin/python3
# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An app on libdevbg through GObject introspection (PyGObject): it
registers a task (or finds the registration it left last time), requests an
instance on a device, prints its progress and its completion, and exits 0
if the task succeeded.

    devbg-example-app.py [--name NAME] [--entry-point EP]
                         [--trigger use|servicing] [--arguments ARGS] DEVICE

Each call to devbgd is asynchronous: the main loop never waits for it.
devbgd tells who the app is from its bus connection; a Python app is
identified by its Flatpak or its systemd app scope
(app-<launcher>-<app ID>-<n>.scope), never by /usr/bin/python3.

Output, one line each, for scripts: REGISTERED <task ID>,
RESULT <result> <reason> <instance ID>, PROGRESS <instance ID> <n>,
COMPLETED <instance ID> <ok|failed> <cancel reason or -> <message>."""

import argparse
import sys

import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg, GLib  # noqa: E402


class ExampleApp:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.status = 1
        self.instance_id = None
        self.client = None
        self.reg = None
        self.trigger = (Devbg.use_trigger_new() if args.trigger == 'use'
                        else Devbg.servicing_trigger_new())

    def fail(self, what, error):
        print('ERROR %s: %s' % (what, error.message), flush=True)
        self.loop.quit()

    def run(self):
        Devbg.Client.new_async(None, self.on_client)
        self.loop.run()
        return self.status

    def on_client(self, _source, result):
        try:
            self.client = Devbg.Client.new_finish(result)
        except GLib.Error as e:
            return self.fail('connect', e)
        # A registration left by an earlier run is used again: its pending
        # completion, if any, is then delivered to it.
        self.client.find_task_async(self.args.name, None, self.on_found)

    def on_found(self, client, result):
        try:
            reg = client.find_task_finish(result)
        except GLib.Error as e:
            if not e.matches(Devbg.error_quark(), Devbg.Error.NO_SUCH_REGISTRATION):
                return self.fail('find', e)
            reg = None
        if reg is not None and reg.get_trigger_type() == self.trigger.get_trigger_type():
            return self.use(reg)
        builder = Devbg.TaskBuilder.new()
        builder.set_name(self.args.name)
        builder.set_task_entry_point(self.args.entry_point)
        builder.set_trigger(self.trigger)
        builder.register_async(client, None, self.on_registered)

    def on_registered(self, builder, result):
        try:
            self.use(builder.register_finish(result))
        except GLib.Error as e:
            self.fail('register', e)

    def use(self, reg):
        self.reg = reg
        print('REGISTERED %s' % reg.get_task_id(), flush=True)
        # Handlers first, then the request: no event can come before them.
        reg.connect('progress', self.on_progress)
        reg.connect('completed', self.on_completed)
        self.trigger.request_async(reg, self.args.device, self.args.arguments, 0, None,
                                   self.on_requested)

    def on_requested(self, trigger, result):
        try:
            res, reason, instance_id = trigger.request_finish(result)
        except GLib.Error as e:
            return self.fail('request', e)
        print('RESULT %s %s %s' % (res.value_nick, reason, instance_id or '-'), flush=True)
        if res != Devbg.TriggerResult.ALLOWED:
            self.loop.quit()
            return
        self.instance_id = instance_id

    def on_progress(self, reg, instance_id, progress):
        print('PROGRESS %s %d' % (instance_id, progress), flush=True)

    def on_completed(self, reg, completion):
        if self.instance_id is not None and completion.get_instance_id() != self.instance_id:
            # An earlier run's completion, delivered now that we listen.
            print('EARLIER %s' % completion.get_instance_id(), flush=True)
            return
        canceled, _ = completion.was_canceled()
        print('COMPLETED %s %s %s %s' % (completion.get_instance_id(),
                                         'ok' if completion.get_success() else 'failed',
                                         completion.get_cancel_reason() if canceled else '-',
                                         completion.get_error_message()), flush=True)
        try:
            completion.check_result()
            self.status = 0
        except GLib.Error as e:
            print('FAILED %s' % e.message, flush=True)
        self.loop.quit()


def main():
    p = argparse.ArgumentParser(description='Run a device background task through devbgd.')
    p.add_argument('--name', default='python-sync')
    p.add_argument('--entry-point', default='PyExample.SyncBand')
    p.add_argument('--trigger', choices=['use', 'servicing'], default='use')
    p.add_argument('--arguments', default='')
    p.add_argument('device')
    return ExampleApp(p.parse_args()).run()


if __name__ == '__main__':
    sys.exit(main())
