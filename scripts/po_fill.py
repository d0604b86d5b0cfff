"""Fill untranslated entries of a catalog from a TSV of `msgid<TAB>msgstr` lines.

Usage: python scripts/po_fill.py PACKAGE FILE.tsv   (prints the msgids still untranslated)
"""

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po


def main(package: str, tsv: str) -> int:
    po_path = Path(package) / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale="zh_Hans_CN")
    pairs = {}
    for line in Path(tsv).read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            msgid, msgstr = line.split("\t", 1)
            pairs[msgid] = msgstr
    missing = []
    for message in catalog:
        if not message.id:
            continue
        if message.id in pairs:
            message.string = pairs[message.id]
        elif not message.string:
            missing.append(message.id)
    with po_path.open("wb") as fh:
        write_po(fh, catalog, width=0)
    for msgid in missing:
        print(f"untranslated: {msgid}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
