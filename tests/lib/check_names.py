#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""devbg's bus names and the completion event's type are spelled out in one
place, lib/devbg-names.h: no C source of devbgd, libdevbg, devbgctl, devbg-sim
or the test helpers writes them as literals, the D-Bus interface files name
the interfaces the header names, and devbgctl and devbg-agent call devbgd
through libdevbg only.

Fails listing each offending line. Run by meson test (suite lib)."""

import pathlib
import re
import sys
import xml.etree.ElementTree as ET

SRC = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else '.').resolve()
HEADER = SRC / 'lib' / 'devbg-names.h'
DIRS = ['lib', 'src', 'sim', 'examples', 'tests/helpers']

# Literals that must come from the header. A GResource path such as
# "/org/devbg/org.devbg.Devbg1.xml" is a file name, not a bus name.
FORBIDDEN = [
    re.compile(r'"org\.devbg\.(Devbg1|Sim1)[".]'),
    re.compile(r'"/org/devbg/(Devbg1|Sim1)"'),
    re.compile(r'"\(sssbssx\)"|"a\(sssbssx\)"|"\(a\(sssbssx\)s\)"'),
]


def header_macros():
    macros = {}
    for m in re.finditer(r'^#define (DEVBG_\w+) (.+)$', HEADER.read_text(), re.M):
        macros[m.group(1)] = m.group(2).strip()
    return macros


def main():
    problems = []
    for d in DIRS:
        for path in sorted((SRC / d).rglob('*')):
            if path.suffix not in ('.c', '.h') or path == HEADER:
                continue
            for n, line in enumerate(path.read_text(errors='replace').splitlines(), 1):
                stripped = line.strip()
                if stripped.startswith(('/*', '*', '//')):
                    continue
                for pat in FORBIDDEN:
                    if pat.search(line):
                        problems.append('%s:%d: literal name, use lib/devbg-names.h: %s'
                                        % (path.relative_to(SRC), n, stripped))
    # devbgctl talks to devbgd through libdevbg only: no D-Bus call or
    # subscription of its own.
    for path in sorted((SRC / 'src' / 'cli').glob('*.c')):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r'g_dbus_connection_(call|signal_subscribe|register_object)|g_bus_get',
                         line):
                problems.append('%s:%d: devbgctl calls D-Bus itself, not through libdevbg: %s'
                                % (path.relative_to(SRC), n, line.strip()))
    # devbg-agent too: it talks to devbgd through libdevbg's
    # DevbgConsentAgent only; its own D-Bus is the session bus's
    # notification server.
    for path in sorted((SRC / 'src' / 'agent').glob('*.c')):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r'G_BUS_TYPE_SYSTEM|g_dbus_connection_register_object|'
                         r'DEVBG_DBUS_(SERVICE|PATH|MANAGER_INTERFACE|CONSENT_AGENT_INTERFACE)',
                         line):
                problems.append('%s:%d: devbg-agent talks to devbgd itself, not through '
                                'libdevbg: %s' % (path.relative_to(SRC), n, line.strip()))
    macros = header_macros()
    expect = {
        'data/org.devbg.Devbg1.xml': macros['DEVBG_DBUS_MANAGER_INTERFACE'],
        'data/org.devbg.Devbg1.Devices.xml': macros['DEVBG_DBUS_DEVICES_INTERFACE'],
        'sim/org.devbg.Sim1.xml': macros['DEVBG_SIM_DBUS_INTERFACE'],
    }
    for rel, iface in expect.items():
        names = [i.get('name') for i in ET.parse(SRC / rel).getroot().iter('interface')]
        if iface.strip('"') not in names:
            problems.append('%s: has no interface %s (it has %s)' % (rel, iface, names))
    conf = (SRC / 'data' / 'org.devbg.Devbg1.conf').read_text()
    if 'own="%s"' % macros['DEVBG_DBUS_SERVICE'].strip('"') not in conf:
        problems.append('data/org.devbg.Devbg1.conf: does not let devbgd own %s'
                        % macros['DEVBG_DBUS_SERVICE'])
    for p in problems:
        print(p)
    print('%d problem(s)' % len(problems))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
