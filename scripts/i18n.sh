#!/usr/bin/env bash
# Update one package's Chinese catalog from its source: scripts/i18n.sh PACKAGE  (core, hotline, ...)
# Then fill the new msgstr entries in PACKAGE/translations/zh_Hans_CN/LC_MESSAGES/messages.po
# with scripts/po_fill.py or by hand, and run `make translations` to compile.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg="${1:?usage: scripts/i18n.sh PACKAGE}"
dir="$pkg/translations"
mkdir -p "$dir"
.venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o "$dir/messages.pot" \
  --no-location --sort-output "$pkg"
if [ -f "$dir/zh_Hans_CN/LC_MESSAGES/messages.po" ]; then
  .venv/bin/pybabel update -i "$dir/messages.pot" -d "$dir" -l zh_Hans_CN --no-fuzzy-matching
else
  .venv/bin/pybabel init -i "$dir/messages.pot" -d "$dir" -l zh_Hans_CN
fi
