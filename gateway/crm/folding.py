"""One folding of names for search, used both when a name is stored and when it is searched.

Agents type names as their keyboard allows: "ISIK", "isik", "Işık" and "ışık" must all find
"Işık". Python's own lower() is not Turkish-aware ("I".lower() is "i", but "İ".lower() is
"i" plus a combining dot), and database collations differ between SQLite and PostgreSQL, so
the folding is done here, in Python, and stored in `customers.name_folded`: the database
only compares plain text with LIKE, the same on both engines.

The fold: the Turkish i's (İ, I, ı, i) all become "i"; letters lose their marks (ç→c, ğ→g,
ö→o, ş→s, ü→u, é→e); case is folded (ß→ss); apostrophes go; anything that is not a letter or digit becomes
a single space. So a search matches with or without a Turkish keyboard, and punctuation,
markup or quotes in a name never change what matches.
"""
from __future__ import annotations

import unicodedata

MAX_FOLDED_LENGTH = 200

# Dotless ı has no decomposition; dotted İ decomposes to I + U+0307 and is handled by the
# mark stripping below. Both then meet plain i.
_TURKISH_I = str.maketrans({"ı": "i", "I": "i", "İ": "i"})
# Apostrophes join a word ("O'Brien", "Ali'nin"): dropped, so "obrien" and "o'brien" both match.
_APOSTROPHES = str.maketrans("", "", "'\u2019\u02bc`")


def fold_name(text: str | None) -> str:
    """The search form of a name (or of what an agent typed): lower-case ASCII-like words
    separated by single spaces. Empty for None or text without letters and digits."""
    if not text:
        return ""
    text = text.translate(_TURKISH_I).translate(_APOSTROPHES)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = stripped.casefold().translate(_TURKISH_I)
    words = "".join(ch if ch.isalnum() else " " for ch in folded).split()
    return " ".join(words)[:MAX_FOLDED_LENGTH]
