#!/usr/bin/env python3
"""accessdoc.py CAIRND DOC: replaces the matrix of docs/access.md (everything from its first
table line on) with `CAIRND routes --markdown`."""
import subprocess
import sys

cairnd, doc = sys.argv[1], sys.argv[2]
matrix = subprocess.run([cairnd, "routes", "--markdown"], check=True, capture_output=True,
                        text=True).stdout
with open(doc, encoding="utf-8") as f:
    text = f.read()
cut = text.find("\n| method |")
head = text if cut < 0 else text[:cut + 1]
with open(doc, "w", encoding="utf-8") as f:
    f.write(head + matrix)
