#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The reference is complete and its gate works.

usage: check_docs.py check-gir-docs.py Devbg-1.gir HTML-DIR
- the GIR passes the gate (every public symbol documented);
- the same GIR with one method's documentation removed fails it, naming
  the method (so the build would fail);
- the generated HTML has a page for every class, record, enumeration and
  function of the GIR, and the hand-written pages."""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'


def gate(checker, gir):
    return subprocess.run(['/usr/bin/python3', checker, gir], capture_output=True, text=True)


def main():
    checker, gir, html = sys.argv[1:4]
    failures = []
    r = gate(checker, gir)
    if r.returncode != 0:
        failures.append('the GIR fails the gate:\n' + r.stderr)

    ET.register_namespace('', CORE[1:-1])
    ET.register_namespace('c', 'http://www.gtk.org/introspection/c/1.0')
    ET.register_namespace('glib', 'http://www.gtk.org/introspection/glib/1.0')
    tree = ET.parse(gir)
    victim = None
    for m in tree.iter(CORE + 'method'):
        if m.get('name') == 'request_finish':
            victim = m
    for el in [victim] + list(victim.iter()):
        for doc in el.findall(CORE + 'doc'):
            el.remove(doc)
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, 'Devbg-1.gir')
        tree.write(bad)
        r = gate(checker, bad)
        if r.returncode == 0 or 'Trigger.request_finish' not in r.stderr:
            failures.append('an undocumented method passes the gate: %r' % r.stderr)

    root = ET.parse(gir).getroot()
    ns = root.find(CORE + 'namespace')
    pages = ['index.html', 'overview.html', 'app.html', 'task.html', 'python.html']
    for kind, prefix in (('class', 'class'), ('record', 'struct'), ('enumeration', 'enum'),
                         ('function', 'func')):
        for el in ns.findall(CORE + kind):
            if el.get('introspectable') == '0' or el.get('moved-to') or el.get(
                    '{http://www.gtk.org/introspection/glib/1.0}is-gtype-struct-for'):
                continue
            if kind == 'enumeration' and el.get('{http://www.gtk.org/introspection/glib/1.0}error-domain'):
                prefix = 'error'
            pages.append('%s.%s.html' % (prefix if kind != 'enumeration' else prefix, el.get('name')))
            prefix = 'enum' if kind == 'enumeration' else prefix
    for page in pages:
        if not os.path.exists(os.path.join(html, page)):
            failures.append('no page %s in %s' % (page, html))
    for f in failures:
        print(f)
    print('%d pages checked, %d failure(s)' % (len(pages), len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
