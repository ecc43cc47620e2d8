#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fails the build when a public symbol of libdevbg is undocumented.

usage: check-gir-docs.py Devbg-1.gir [STAMP]
Every class, record, enumeration and its members, function, method,
constructor, callback, constant, signal and property in the GIR must carry
a doc comment, each parameter too, each non-void return value too, and each
symbol a Since: version. Lists every gap and exits 1 when there is one;
writes STAMP when there is none (a build target's output)."""

import sys
import xml.etree.ElementTree as ET

NS = {'c': 'http://www.gtk.org/introspection/core/1.0',
      'glib': 'http://www.gtk.org/introspection/glib/1.0'}
CORE = '{%s}' % NS['c']
GLIB = '{%s}' % NS['glib']
SYMBOLS = ('class', 'record', 'enumeration', 'bitfield', 'function', 'method',
           'constructor', 'callback', 'constant', 'property', GLIB + 'signal',
           'member')
CALLABLES = ('function', 'method', 'constructor', 'callback', GLIB + 'signal')
# Not written by hand: the GType functions and the Class structs that
# G_DECLARE_FINAL_TYPE declares.
SKIP_SUFFIXES = ('_get_type',)


def tag(el):
    return el.tag.replace(CORE, '')


def name(el, parent):
    return '%s%s' % (parent + '.' if parent else '', el.get('name'))


def has_doc(el):
    doc = el.find(CORE + 'doc')
    return doc is not None and (doc.text or '').strip() != ''


def check(el, parent, problems):
    t = tag(el)
    ident = el.get('{%s}identifier' % NS['c']) or ''
    if t in SYMBOLS and not ident.endswith(SKIP_SUFFIXES):
        if el.get('introspectable') == '0' and t == 'record' and el.get(GLIB + 'is-gtype-struct-for'):
            return
        if el.get(GLIB + 'is-gtype-struct-for'):
            return
        n = name(el, parent)
        ret = el.find(CORE + 'return-value')
        # A getter's Returns: is its documentation.
        if not has_doc(el) and not (t in CALLABLES and ret is not None and has_doc(ret)):
            problems.append('%s %s: no documentation' % (t.replace(GLIB, ''), n))
        if t not in ('member', 'property') and el.get('version') is None \
                and not (t == GLIB + 'signal' and el.get('version')):
            if t not in ('callback',) or parent == '':
                problems.append('%s %s: no Since:' % (t.replace(GLIB, ''), n))
        if t in CALLABLES:
            params = el.find(CORE + 'parameters')
            if params is not None:
                for p in params:
                    if tag(p) in ('parameter', 'instance-parameter') and not has_doc(p):
                        problems.append('%s %s: parameter %s undocumented'
                                        % (t.replace(GLIB, ''), n, p.get('name')))
            ret = el.find(CORE + 'return-value')
            if ret is not None:
                rtype = ret.find(CORE + 'type')
                void = rtype is not None and rtype.get('name') == 'none'
                if not void and not has_doc(ret):
                    problems.append('%s %s: return value undocumented'
                                    % (t.replace(GLIB, ''), n))
        parent = n
    for child in el:
        if tag(child) in SYMBOLS or tag(child) in ('namespace',):
            check(child, parent if t != 'namespace' else '', problems)


def main():
    root = ET.parse(sys.argv[1]).getroot()
    problems = []
    for ns in root.findall(CORE + 'namespace'):
        check(ns, '', problems)
    for p in problems:
        print('%s: %s' % (sys.argv[1], p), file=sys.stderr)
    if problems:
        print('%d undocumented public symbol(s) or part(s)' % len(problems), file=sys.stderr)
        return 1
    if len(sys.argv) > 2:
        open(sys.argv[2], 'w').write('ok\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
