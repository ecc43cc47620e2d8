#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libdevbg exports exactly the functions its installed headers declare, each
with the version LIBDEVBG_0.1 (or a later node): no internal symbol leaks, and
no declared function is missing from the library.

usage: check_symbols.py LIBDEVBG.so HEADER...
Reads the exported symbols with nm -D --defined-only, and the declarations
from the headers (including the get_type functions that G_DECLARE_FINAL_TYPE
and the enum type macros declare). Fails listing every difference."""

import re
import subprocess
import sys


def exported(lib):
    out = subprocess.run(['nm', '-D', '--defined-only', '--with-symbol-versions', lib],
                         check=True, capture_output=True, text=True).stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] not in ('T', 'D', 'B', 'R'):
            continue
        name, _, version = parts[2].partition('@')
        symbols[name] = version.lstrip('@')
    return symbols


def declared(headers):
    names = set()
    for path in headers:
        text = open(path).read()
        text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)   # comments
        text = re.sub(r'^\s*#\s*define.*$', '', text, flags=re.M)
        for m in re.finditer(r'G_DECLARE_\w+_TYPE\s*\(\s*\w+\s*,\s*(\w+)', text):
            names.add(m.group(1) + '_get_type')
        # A declaration: an identifier followed by '(' at the top level,
        # preceded by a return type and ending in ';' (not a macro call).
        for m in re.finditer(r'^[A-Za-z_][\w\s\*]*?\b(devbg_\w+)\s*\([^;{]*\)\s*(G_GNUC_\w+\s*)*;',
                             text, flags=re.M):
            names.add(m.group(1))
    return names


def main():
    lib, headers = sys.argv[1], sys.argv[2:]
    have = exported(lib)
    want = declared(headers)
    problems = []
    for name in sorted(set(have) - want):
        problems.append('exported but not in the headers: %s' % name)
    for name in sorted(want - set(have)):
        problems.append('declared but not exported: %s' % name)
    for name, version in sorted(have.items()):
        if name in want and not version.startswith('LIBDEVBG_'):
            problems.append('exported without a LIBDEVBG_ version: %s@%s' % (name, version))
    for p in problems:
        print(p)
    print('%d exported, %d declared, %d problem(s)' % (len(have), len(want), len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
