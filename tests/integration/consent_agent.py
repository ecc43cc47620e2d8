#!/usr/bin/python3
# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A consent agent for the tests: registers with devbgd on the bus at
DBUS_SYSTEM_BUS_ADDRESS and answers every prompt as --mode says:
allow, deny, silent (never answers), garbage (answers a string, not a
boolean), or slow (allows after --delay seconds). Each RequestConsent and
CancelConsent is appended to --log as one JSON line, with the time and how
many prompts were open at once. Prints "ready" once registered."""
import argparse
import json
import sys
import time

from gi.repository import Gio, GLib

XML = '''<node><interface name="org.devbg.Devbg1.ConsentAgent1">
<method name="RequestConsent"><arg type="a{sv}" direction="in"/><arg type="b" direction="out"/></method>
<method name="CancelConsent"><arg type="s" direction="in"/></method>
</interface></node>'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mode', default='allow')
    ap.add_argument('--delay', type=float, default=1.0)
    ap.add_argument('--log', required=True)
    ap.add_argument('--path', default='/org/devbg/test/Agent')
    args = ap.parse_args()

    bus = Gio.DBusConnection.new_for_address_sync(
        GLib.getenv('DBUS_SYSTEM_BUS_ADDRESS'),
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    open_prompts = {}

    def log(entry):
        entry['time'] = time.monotonic()
        entry['open'] = len(open_prompts)
        with open(args.log, 'a') as f:
            f.write(json.dumps(entry) + '\n')

    def answer(prompt_id, allow):
        inv = open_prompts.pop(prompt_id, None)
        if inv is not None:
            inv.return_value(GLib.Variant('(b)', (allow,)))
        return False

    def on_call(conn, sender, path, iface, method, params, inv):
        if method == 'RequestConsent':
            details = params.unpack()[0]
            pid = details['prompt-id']
            open_prompts[pid] = inv
            log({'call': 'RequestConsent', 'sender': sender, 'details': details})
            if args.mode == 'allow':
                answer(pid, True)
            elif args.mode == 'deny':
                answer(pid, False)
            elif args.mode == 'garbage':
                open_prompts.pop(pid).return_value(GLib.Variant('(s)', ('yes please',)))
            elif args.mode == 'slow':
                GLib.timeout_add(int(args.delay * 1000), answer, pid, True)
            # silent: keep it open
        else:
            pid = params.unpack()[0]
            inv_open = open_prompts.pop(pid, None)
            log({'call': 'CancelConsent', 'prompt-id': pid, 'was-open': inv_open is not None})
            inv.return_value(None)

    # GDBus sends only what the introspection declares: a garbage agent
    # declares a string answer.
    node = Gio.DBusNodeInfo.new_for_xml(
        XML.replace('<arg type="b" direction="out"/>', '<arg type="s" direction="out"/>')
        if args.mode == 'garbage' else XML)
    bus.register_object(args.path, node.interfaces[0], on_call, None, None)
    bus.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', 'org.devbg.Devbg1.Manager',
                  'RegisterConsentAgent', GLib.Variant('(o)', (args.path,)), None,
                  Gio.DBusCallFlags.NONE, 5000, None)
    print('ready', flush=True)
    GLib.MainLoop().run()


if __name__ == '__main__':
    sys.exit(main())
