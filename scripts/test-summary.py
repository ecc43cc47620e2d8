# Counts test cases in meson's testlog.json files: a TAP test counts its
# "ok"/"not ok" lines, any other test counts once. Prints
# "N passed, N failed[, N skipped]" last, and exits 1 on a failure or when
# nothing ran.
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        print('summary: no test log %s' % path)
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        out = t.get('stdout') or ''
        tap = re.findall(r'^(ok|not ok) \d+[^\n]*', out, re.M)
        if t.get('protocol') == 'tap' or tap:
            for m in re.finditer(r'^(ok|not ok) \d+([^\n]*)', out, re.M):
                if m.group(1) == 'not ok':
                    failed += 1
                elif '# SKIP' in m.group(2):
                    skipped += 1
                else:
                    passed += 1
            if t['result'] not in ('OK', 'EXPECTEDFAIL', 'SKIP') and 'not ok' not in out:
                failed += 1  # crashed or timed out outside a test case
        elif t['result'] in ('OK', 'EXPECTEDFAIL'):
            passed += 1
        elif t['result'] == 'SKIP':
            skipped += 1
        else:
            failed += 1

line = '%d passed, %d failed' % (passed, failed)
if skipped:
    line += ', %d skipped' % skipped
print(line)
sys.exit(1 if failed or passed == 0 else 0)
