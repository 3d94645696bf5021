#!/usr/bin/env python3
"""The floor for a cold compile: write the files a compile writes, in shuffled order, with a
plain loop (one file at a time), right after `kiln clean`.

    bench/write_compiled.py SAVED_COPY TARGET_COMPILED    prints the seconds taken
"""
import os
import random
import sys
import time

src, dst = sys.argv[1], sys.argv[2]
files = []
for root, _, names in os.walk(src):
    for name in names:
        path = os.path.join(root, name)
        with open(path) as f:
            files.append((os.path.relpath(path, src), f.read()))
random.shuffle(files)
start = time.monotonic()
for rel, content in files:
    path = os.path.join(dst, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)
print(f"{time.monotonic() - start:.2f}")
