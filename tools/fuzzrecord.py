#!/usr/bin/env python3
"""fuzzrecord.py DOC HARNESS EXECUTIONS CORPUS_FILES: adds one fuzzing run to the record table
of docs/fuzzing.md (between the fuzz-record markers): the harness's executions survived are
accumulated, its corpus size and last run date replaced, and the summary line under the table
recounted against the goal of 10 million executions per harness."""
import datetime
import glob
import os
import re
import sys

GOAL = 10_000_000
BEGIN, END = "<!-- fuzz-record:begin -->", "<!-- fuzz-record:end -->"
HEAD = ("| harness | executions survived (accumulated) | corpus files | last run (UTC) |\n"
        "|---|---:|---:|---|\n")


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    doc, name, execs, files = argv[1], argv[2], int(argv[3]), int(argv[4])
    text = open(doc, encoding="utf-8").read()
    a, b = text.index(BEGIN) + len(BEGIN), text.index(END)
    rows = {}
    for line in text[a:b].splitlines():
        m = re.match(r"^\| `fuzz_(\w+)` \| ([\d,]+) \| (\d+) \| ([^|]*) \|$", line)
        if m:
            rows[m.group(1)] = [int(m.group(2).replace(",", "")), int(m.group(3)),
                                m.group(4).strip()]
    old = rows.get(name, [0, 0, ""])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    rows[name] = [old[0] + execs, files, now]
    # every harness of tests/fuzz has a row, a never-run one too
    root = os.path.dirname(os.path.dirname(os.path.abspath(doc)))
    for src in glob.glob(os.path.join(root, "tests", "fuzz", "fuzz_*.c")):
        rows.setdefault(os.path.basename(src)[5:-2], [0, 0, "never"])
    out = "\n" + HEAD
    for n in sorted(rows):
        out += "| `fuzz_%s` | {:,} | %d | %s |\n".format(rows[n][0]) % (n, rows[n][1], rows[n][2])
    done = sorted(n for n in rows if rows[n][0] >= GOAL)
    short = sorted(n for n in rows if rows[n][0] < GOAL)
    out += "\n%d of %d harnesses have reached %s executions." % (len(done), len(rows),
                                                                "{:,}".format(GOAL))
    if short:
        out += " Not yet: %s." % ", ".join("`fuzz_%s`" % n for n in short)
    out += "\n"
    open(doc, "w", encoding="utf-8").write(text[:a] + out + text[b:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
