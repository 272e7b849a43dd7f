"""Update the catalogues: ``python -m battrace.web.i18n [--check]``.

Extracts every message of the web pages (``_()``, ``N_()``, ``gettext``, ``ngettext`` in Python,
``_()`` and ``{% trans %}`` in templates), adds new ids to both ``messages.po`` files, marks ids no
longer used as obsolete, and keeps existing translations. ``--check`` changes nothing and exits 1
when a message is missing from the Chinese catalogue or has no translation.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from battrace.web.i18n import LOCALES, catalogue_path, missing_translations

PAGES = Path(__file__).resolve().parent.parent / "pages"
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}


def extract() -> Iterator[tuple[str | tuple[str, ...], str, int]]:
    """(message, file, line) for every translatable message of the web pages (plural: tuple)."""
    for path in sorted(PAGES.rglob("*.py")):
        for lineno, message, _comments, _ctx in extract_from_file(
            "python", str(path), keywords=KEYWORDS
        ):
            yield message, str(path.relative_to(PAGES)), lineno
    for path in sorted((PAGES / "templates").rglob("*.html")):
        for lineno, message, _comments, _ctx in extract_from_file(
            "jinja2.ext:babel_extract",
            str(path),
            keywords=KEYWORDS,
            options={"extensions": "jinja2.ext.i18n", "trimmed": "true"},
        ):
            yield message, str(path.relative_to(PAGES)), lineno


def messages() -> list[str]:
    out: dict[str, None] = {}
    for message, _path, _line in extract():
        # A plural message is keyed by its singular form in the catalogue.
        m = message[0] if isinstance(message, tuple) else message
        if m:
            out[m] = None
    return list(out)


def update() -> None:
    template = Catalog(project="battrace", fuzzy=False)
    for message, path, line in extract():
        msgid = message if isinstance(message, str) else tuple(m for m in message if m)
        if msgid:
            template.add(msgid, locations=[(path, line)])
    for locale in LOCALES:
        po = catalogue_path(locale)
        if po.exists():
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
        else:
            po.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=locale, project="battrace", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        with po.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, ignore_obsolete=True)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        missing = missing_translations(messages())
        for m in missing:
            print(f"zh_CN: no translation for {m!r}")
        return 1 if missing else 0
    update()
    missing = missing_translations(messages())
    print(f"catalogues updated; {len(missing)} message(s) need a Chinese translation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
