#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The documents tell the truth about the enumerations they carry.

usage: check_docs_truth.py SOURCE_DIR
Reads the enumerations from lib/devbg-enums.h (names and numbers) and their
words from lib/devbg-enums.c, and checks that
- docs/task-channel.md's tables list every trigger type and cancel reason
  with its number and word, and nothing else;
- the D-Bus XML's Completed documentation lists every cancel reason word
  with its number, and Request's every DeviceTriggerResult number;
- the D-Bus XML names the error codes of lib/devbg-error.c only;
- every configuration key of src/daemon/devbg-config.c is in
  data/devbgd.conf, in its group, and has an entry in docs/devbgd.8.
Fails listing every difference."""

import os
import re
import sys
import xml.etree.ElementTree as ET

SRC = sys.argv[1] if len(sys.argv) > 1 else '.'


def read(rel):
    with open(os.path.join(SRC, rel)) as f:
        return f.read()


def enum_values(header, type_name):
    """{C name: number} of the typedef enum @type_name."""
    m = re.search(r'typedef enum \{([^{}]*)\} %s;' % type_name, header)
    values, n = {}, -1
    for name, value in re.findall(r'(DEVBG_\w+)(?:\s*=\s*(-?\d+))?\s*,', m.group(1)):
        n = int(value) if value else n + 1
        # Negative values never travel (DEVBG_RESULT_FAILED: a failed call).
        if n >= 0:
            values[name] = n
    return values


def enum_words(source, table):
    """{C name: word} of the string table @table in devbg-enums.c."""
    m = re.search(r'%s\[\] = \{(.*?)\};' % table, source, re.S)
    return dict(re.findall(r'\[(DEVBG_\w+)\] = "([^"]+)"', m.group(1)))


def numbered(values, words):
    return {values[name]: words[name] for name in values}


def markdown_table(text, heading):
    """{number: first word} of the table whose header row starts with
    @heading."""
    rows = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith('| ' + heading):
            for row in lines[i + 2:]:
                if not row.startswith('|'):
                    break
                cells = [c.strip() for c in row.strip('|').split('|')]
                rows[int(cells[0])] = cells[1].split()[0]
            return rows
    return None


def xml_doc_before(root_text, element, name):
    """The comment just before <element name="name">."""
    m = re.search(r'<!--((?:(?!-->).)*)-->\s*<%s name="%s"' % (element, name), root_text, re.S)
    return re.sub(r'\s+', ' ', m.group(1)) if m else ''


def main():
    problems = []
    header = read('lib/devbg-enums.h')
    source = read('lib/devbg-enums.c')
    cancel = numbered(enum_values(header, 'DevbgCancelReason'), enum_words(source, 'cancel_names'))
    trigger = numbered(enum_values(header, 'DevbgTriggerType'), enum_words(source, 'trigger_names'))
    result = numbered(enum_values(header, 'DevbgTriggerResult'), enum_words(source, 'result_names'))

    channel = read('docs/task-channel.md')
    for heading, want in (('trigger type', trigger), ('cancel reason', cancel)):
        have = markdown_table(channel, heading)
        if have is None:
            problems.append('docs/task-channel.md: no "%s" table' % heading)
        elif have != want:
            problems.append('docs/task-channel.md: the %s table says %s, the code %s'
                            % (heading, sorted(have.items()), sorted(want.items())))

    xml = read('data/org.devbg.Devbg1.xml')
    ET.fromstring(xml)  # well-formed
    completed = xml_doc_before(xml, 'signal', 'Completed')
    for number, word in sorted(cancel.items()):
        if not re.search(r'\b%s %d\b' % (re.escape(word), number), completed):
            problems.append('org.devbg.Devbg1.xml: Completed does not list cancel reason '
                            '"%s %d"' % (word, number))
    request = xml_doc_before(xml, 'method', 'Request')
    for number, word in sorted(result.items()):
        spoken = word.replace('-', ' ')
        if not re.search(r'\b%d %s\b' % (number, re.escape(spoken)), request):
            problems.append('org.devbg.Devbg1.xml: Request does not list result "%d %s"'
                            % (number, spoken))

    errors = set(re.findall(r'DEVBG_DBUS_ERROR_PREFIX "(\w+)"', read('lib/devbg-error.c')))
    for iface_xml in ('data/org.devbg.Devbg1.xml', 'data/org.devbg.Devbg1.Devices.xml'):
        text = read(iface_xml)
        for block in re.findall(r'Errors(?: \([^)]*\))?:([^.]*)\.', text):
            for name in re.findall(r'[A-Z]\w+', block):
                if name not in errors:
                    problems.append('%s: names an error %s that devbgd has not' % (iface_xml, name))

    # Every configuration key, in its group, is in the shipped devbgd.conf
    # (commented, with its default) and has an entry in devbgd(8).
    conf = read('data/devbgd.conf')
    man = read('docs/devbgd.8')
    keys = re.findall(r'\{ "(\w+)", "(\w+)", KEY_', read('src/daemon/devbg-config.c'))
    groups = {}
    group = None
    for line in conf.splitlines():
        m = re.match(r'^\[(\w+)\]', line)
        if m:
            group = m.group(1)
        m = re.match(r'^#?(\w+)=', line)
        if m and group:
            groups[m.group(1)] = group
    man_entries = re.findall(r'^\.B \[(\w+)\] (.*)$', man, re.M)
    for group, key in keys:
        if groups.get(key) != group:
            problems.append('data/devbgd.conf: no [%s] %s (found in %s)' % (group, key, groups.get(key)))
        if not any(g == group and re.search(r'\b%s=' % key, e) for g, e in man_entries):
            problems.append('docs/devbgd.8: no entry for [%s] %s' % (group, key))
    if not keys:
        problems.append('no configuration keys found in src/daemon/devbg-config.c')

    for p in problems:
        print(p)
    print('%d cancel reasons, %d trigger types, %d results, %d config keys checked; '
          '%d problem(s)' % (len(cancel), len(trigger), len(result), len(keys), len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
