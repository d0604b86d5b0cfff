"""The Chinese catalogs of all packages are merged into one at run time, so a message id must
mean the same everywhere, and every message must be translated."""

from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = sorted(ROOT.glob("**/translations/zh_Hans_CN/LC_MESSAGES/messages.po"))


def _entries() -> list[tuple[str, str, str]]:
    rows = []
    for po in CATALOGS:
        if ".venv" in po.parts:
            continue
        with po.open("rb") as fh:
            for message in read_po(fh):
                if message.id:
                    msgid = message.id if isinstance(message.id, str) else message.id[0]
                    msgstr = message.string if isinstance(message.string, str) else message.string[0]
                    rows.append((str(po.relative_to(ROOT)), msgid, msgstr))
    return rows


def test_there_are_catalogs():
    assert any("core" in str(p) for p in CATALOGS)


def test_every_message_is_translated():
    missing = [f"{path}: {msgid}" for path, msgid, msgstr in _entries() if not msgstr]
    assert not missing, "\n".join(missing)


def test_a_message_id_means_the_same_in_every_package():
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for path, msgid, msgstr in _entries():
        if msgid in seen and seen[msgid][1] != msgstr:
            clashes.append(f"{msgid!r}: {seen[msgid][0]}={seen[msgid][1]!r} but {path}={msgstr!r}")
        seen.setdefault(msgid, (path, msgstr))
    assert not clashes, "\n".join(clashes)
