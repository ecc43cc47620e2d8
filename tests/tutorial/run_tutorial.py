#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Follows docs/tutorial.md step by step, so that the tutorial cannot drift
from what devbg does.

usage: run_tutorial.py SOURCE_DIR BUILD_DIR [B_SANITIZE]
The page's directives (HTML comments, invisible when rendered) say what to
do with the code block that follows each:
  <!-- tutorial: file PATH -->   write the block to $WORK/PATH, there
  <!-- tutorial: run -->         run the block, in order, in one bash
  <!-- tutorial: skip ... -->    leave it (installing into the system)
  <!-- tutorial: expect TEXT --> the output of the run block before it
                                  must contain TEXT
Blocks without a directive are illustrations. Fails naming the step whose
command failed or whose output lacks what the page promises."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

DIRECTIVE = re.compile(r'^<!-- tutorial: (\w+)(?: (.*?))? -->$')


def parse(text):
    """[(kind, arg, body)] for each directive and its block; expect
    directives as ('expect', text, None)."""
    steps, pending, block, lang = [], None, None, None
    for line in text.splitlines():
        if block is not None:
            if line.startswith('```'):
                if pending is not None:
                    steps.append((pending[0], pending[1], '\n'.join(block) + '\n'))
                pending, block = None, None
            else:
                block.append(line)
            continue
        m = DIRECTIVE.match(line.strip())
        if m:
            if m.group(1) == 'expect':
                steps.append(('expect', m.group(2), None))
            else:
                pending = (m.group(1), m.group(2))
        elif line.startswith('```'):
            block, lang = [], line[3:]
    return steps


def kill_leftovers(work):
    for name in ('sim.pid', 'devbgd.pid', 'bus.pid'):
        try:
            with open(os.path.join(work, name)) as f:
                os.kill(int(f.read().split()[0]), signal.SIGTERM)
        except (OSError, ValueError, IndexError):
            pass


def main():
    if len(sys.argv) > 3 and sys.argv[3] not in ('', 'none'):
        print('SKIP: sanitizer build (%s): the tutorial builds programs of the reader against libdevbg, which the libdevbg of a sanitizer build cannot serve (its runtime must load first): followed in the normal build' % sys.argv[3])
        return 77
    src, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with open(os.path.join(src, 'docs', 'tutorial.md')) as f:
        steps = parse(f.read())
    work = tempfile.mkdtemp(prefix='devbg-tutorial-')
    os.chmod(work, 0o755)
    # What a reader sees is stdout and stderr together.
    runs, expects, script = [], {}, ['set -eu', 'exec 2>&1']
    for kind, arg, body in steps:
        if kind == 'file':
            # Written when the reader gets there, not before: devbgd sees
            # a manifest appear as it would.
            script.append('mkdir -p "$WORK/%s"\ncat > "$WORK/%s" <<\'TUTORIAL_EOF\'\n%s'
                          'TUTORIAL_EOF' % (os.path.dirname(arg) or '.', arg, body))
        elif kind == 'run':
            runs.append(body)
            script.append('echo "@@STEP %d@@"' % len(runs))
            script.append(body)
        elif kind == 'expect':
            expects.setdefault(len(runs), []).append(arg)
    script.append('echo "@@STEP END@@"')
    env = dict(os.environ, DEVBG_BUILD=build, WORK=work)
    for var in ('DBUS_SYSTEM_BUS_ADDRESS', 'DBUS_SESSION_BUS_ADDRESS', 'PKG_CONFIG_PATH',
                'GI_TYPELIB_PATH', 'LD_LIBRARY_PATH'):
        env.pop(var, None)
    failures = []
    try:
        r = subprocess.run(['bash', '-c', '\n'.join(script)], cwd=src, env=env,
                           capture_output=True, text=True, timeout=240)
    finally:
        kill_leftovers(work)
    outputs = re.split(r'^@@STEP (\d+|END)@@$', r.stdout, flags=re.M)
    by_step = {int(outputs[i]): outputs[i + 1] for i in range(1, len(outputs) - 1, 2)
               if outputs[i] != 'END'}
    if '@@STEP END@@' not in r.stdout:
        last = max(by_step) if by_step else 0
        failures.append('step %d failed (exit %d):\n%s\n--- its output:\n%s\n--- stderr:\n%s'
                        % (last, r.returncode, runs[last - 1] if last else '',
                           by_step.get(last, ''), r.stderr[-3000:]))
    for step, texts in sorted(expects.items()):
        for text in texts:
            if text not in by_step.get(step, ''):
                failures.append('step %d: the page says the output shows %r; it was:\n%s'
                                % (step, text, by_step.get(step, '(not run)')))
    if failures and os.path.exists(os.path.join(work, 'devbgd.log')):
        with open(os.path.join(work, 'devbgd.log')) as f:
            print('--- devbgd.log (tail):\n' + f.read()[-3000:])
    for f in failures:
        print('FAIL: ' + f)
    print('%d steps run, %d expectations, %d failure(s)'
          % (len(runs), sum(len(t) for t in expects.values()), len(failures)))
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
