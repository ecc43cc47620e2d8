#!/usr/bin/python3
# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libdevbg's consent agent and permission calls from Python, through GObject
introspection (Devbg-1.typelib), for tests/integration/test_lib_agent.py.

  py_lib_agent.py agent --mode allow|deny|hold --log LOG [--wait]
      A Devbg.ConsentAgent on the bus at DBUS_SYSTEM_BUS_ADDRESS. Prints
      "ready UNIQUE-NAME OBJECT-PATH" once registered. Each prompt, each
      withdrawal and each change of "registered" is one JSON line in LOG.
      allow and deny answer from a timeout after the signal handler has
      returned (an answer given later, as a person gives it); hold never
      answers, and tries to answer a prompt once it was withdrawn (which
      must fail). Stops on SIGTERM, disposing the agent. With --wait, a
      failed registration is printed as "ERROR ..." and the agent waits
      for devbgd to appear.
  py_lib_agent.py list
      Every stored consent the caller may see, a page at a time with the
      async calls, as one JSON list.
  py_lib_agent.py revoke UID APP_ID [MODEL_ID]
      Prints "REVOKED N", or "ERROR DOMAIN CODE MESSAGE"."""
import json
import signal
import sys
import time

import gi
gi.require_version('Devbg', '1')
from gi.repository import Devbg, GLib  # noqa: E402


def prompt_fields(prompt):
    return {
        'prompt-id': prompt.get_prompt_id(),
        'uid': prompt.get_uid(),
        'app-id': prompt.get_app_id(),
        'app-name': prompt.get_app_name(),
        'device-id': prompt.get_device_id(),
        'device-name': prompt.get_device_name(),
        'model-id': prompt.get_model_id(),
        'trigger': Devbg.trigger_type_to_string(prompt.get_trigger_type()),
        'warnings': list(prompt.get_warnings()),
        'expected-duration-s': prompt.get_expected_duration_s(),
        'remembered': prompt.get_remembered(),
        'open': prompt.props.open,
        'details-keys': sorted(prompt.get_details().keys()),
    }


def run_agent(mode, log_path, wait):
    client = Devbg.Client.new_sync(None)
    agent = Devbg.ConsentAgent.new(client, None)
    loop = GLib.MainLoop()
    held = {}

    def log(entry):
        entry['time'] = time.monotonic()
        with open(log_path, 'a') as f:
            f.write(json.dumps(entry) + '\n')

    def answer(prompt, allow):
        try:
            prompt.answer(allow)
            log({'event': 'answered', 'prompt-id': prompt.get_prompt_id(), 'allow': allow,
                 'open-after': prompt.props.open})
        except GLib.Error as e:
            log({'event': 'answer-failed', 'prompt-id': prompt.get_prompt_id(),
                 'domain': e.domain, 'code': e.code, 'message': e.message})
        return GLib.SOURCE_REMOVE

    def on_prompt(_agent, prompt):
        log(dict(prompt_fields(prompt), event='prompt'))
        if mode in ('allow', 'deny'):
            GLib.timeout_add(50, answer, prompt, mode == 'allow')
        else:
            held[prompt.get_prompt_id()] = prompt

    def on_withdrawn(_agent, prompt):
        log({'event': 'withdrawn', 'prompt-id': prompt.get_prompt_id(),
             'open': prompt.props.open})
        # Too late: the library must refuse, not send a stale answer.
        answer(prompt, True)

    def on_registered(agent, _pspec):
        log({'event': 'registered', 'registered': agent.get_registered()})

    agent.connect('prompt', on_prompt)
    agent.connect('prompt-withdrawn', on_withdrawn)
    agent.connect('notify::registered', on_registered)

    def registered(agent, result):
        try:
            agent.register_finish(result)
        except GLib.Error as e:
            print('ERROR %s %d %s' % (e.domain, e.code, e.message), flush=True)
            if not wait:
                loop.quit()
            return
        print('ready %s %s' % (client.get_connection().get_unique_name(),
                               agent.get_object_path()), flush=True)

    agent.register_async(None, registered)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()
    held.clear()
    # Disposing the agent denies what is open and unregisters it.
    agent.run_dispose()
    client.get_connection().flush_sync(None)
    return 0


def list_all():
    client = Devbg.Client.new_sync(None)
    loop = GLib.MainLoop()
    entries = []
    failure = []

    def page_done(client, result):
        try:
            page, continuation = client.list_permissions_finish(result)
        except GLib.Error as e:
            failure.append(e)
            loop.quit()
            return
        entries.extend({'uid': p.get_uid(), 'app-id': p.get_app_id(),
                        'model-id': p.props.model_id, 'created-us': p.get_created_us()}
                       for p in page)
        if continuation:
            client.list_permissions_async(continuation, None, page_done)
        else:
            loop.quit()

    client.list_permissions_async(None, None, page_done)
    loop.run()
    if failure:
        print('ERROR %s %d %s' % (failure[0].domain, failure[0].code, failure[0].message))
        return 1
    print(json.dumps(entries))
    return 0


def revoke(uid, app_id, model_id):
    client = Devbg.Client.new_sync(None)
    try:
        ok, removed = client.revoke_permission_sync(uid, app_id, model_id, None)
    except GLib.Error as e:
        print('ERROR %s %d %s' % (e.domain, e.code, e.message))
        return 1
    print('REVOKED %d' % removed)
    return 0


def main():
    if sys.argv[1] == 'agent':
        mode = sys.argv[sys.argv.index('--mode') + 1]
        log_path = sys.argv[sys.argv.index('--log') + 1]
        return run_agent(mode, log_path, '--wait' in sys.argv)
    if sys.argv[1] == 'list':
        return list_all()
    if sys.argv[1] == 'revoke':
        return revoke(int(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    print('unknown command %s' % sys.argv[1], file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
