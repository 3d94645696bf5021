#!/usr/bin/env python3
"""Compares two target/compiled trees (dbt-core's and Kiln's) file by file.

    bench/compare_compiled.py DBT_TARGET/compiled KILN_TARGET/compiled [--show N]

Files are equal when they are after collapsing every run of whitespace to one space, the
measure the real-project checks use. Prints the count, the files only one side wrote, and the
first differing words of up to N files that differ (default 10).
"""
import difflib
import os
import re
import sys


def files(root):
    out = {}
    for directory, _, names in os.walk(root):
        for name in names:
            if name.endswith(".sql"):
                path = os.path.join(directory, name)
                with open(path, encoding="utf-8") as handle:
                    out[os.path.relpath(path, root)] = re.sub(r"\s+", " ", handle.read()).strip()
    return out


def main():
    args = sys.argv[1:]
    show = 10
    if "--show" in args:
        at = args.index("--show")
        show = int(args[at + 1])
        del args[at : at + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    dbt, kiln = files(args[0]), files(args[1])
    same = [path for path in dbt if kiln.get(path) == dbt[path]]
    differ = sorted(path for path in dbt if path in kiln and kiln[path] != dbt[path])
    print(f"dbt {len(dbt)} files, kiln {len(kiln)}: {len(same)} identical "
          f"({100 * len(same) / max(1, len(dbt)):.0f}%), {len(differ)} differ")
    for label, paths in (("only dbt", set(dbt) - set(kiln)), ("only kiln", set(kiln) - set(dbt))):
        if paths:
            print(f"{label}: {', '.join(sorted(paths)[:10])}")
    for path in differ[:show]:
        a, b = dbt[path].split(" "), kiln[path].split(" ")
        print(f"== {path}")
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if op != "equal":
                print(f"   dbt : {' '.join(a[max(0, i1 - 4):i2 + 4])[:200]}")
                print(f"   kiln: {' '.join(b[max(0, j1 - 4):j2 + 4])[:200]}")
                break


if __name__ == "__main__":
    main()
