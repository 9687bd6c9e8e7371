"""Compile the .po catalogues to .mo with polib, so no system gettext is needed."""

from __future__ import annotations

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    count = 0
    for po_path in sorted((ROOT / "kehu").glob("**/locale/*/LC_MESSAGES/*.po")):
        po = polib.pofile(str(po_path))
        po.save_as_mofile(str(po_path.with_suffix(".mo")))
        count += 1
        print(f"compiled {po_path.relative_to(ROOT)} ({po.percent_translated()}% translated)")
    if not count:
        print("no catalogues found", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
