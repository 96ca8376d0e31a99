"""Fail when the PostgreSQL variants of the database tests were skipped or absent."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def main(path: str) -> int:
    ran = skipped = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        if "[postgresql" not in case.get("name", ""):
            continue
        if case.find("skipped") is not None:
            skipped += 1
        else:
            ran += 1
    print(f"PostgreSQL test variants: {ran} ran, {skipped} skipped")
    if ran == 0 or skipped:
        print("error: the PostgreSQL database tests must all run in CI", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "artifacts/junit.xml"))
