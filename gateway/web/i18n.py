"""The pages' Turkish and English: one gettext catalogue per language in gateway/web/locale
(`.po` files, read with Babel when first needed; no compile step), chosen by the account's
locale once signed in, else by the browser's Accept-Language."""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LOCALES = ("tr", "en")  # English is the source language: its catalogue is the messages themselves
DEFAULT_LOCALE = "tr"


@lru_cache(maxsize=None)
def translations(locale: str) -> NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale not in LOCALES or not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def negotiate(accept_language: str | None) -> str:
    """The best of LOCALES for an Accept-Language header (DEFAULT_LOCALE when none fits)."""
    wanted = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            wanted.append((quality, tag.strip().replace("_", "-")))
    preferred = [tag for _, tag in sorted(wanted, key=lambda w: -w[0])]
    best = Locale.negotiate(preferred, LOCALES, sep="-")
    return best.language if best is not None else DEFAULT_LOCALE
