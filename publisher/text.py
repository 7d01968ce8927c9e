"""Text folding for matching what people type against codes and labels."""

from __future__ import annotations

import unicodedata

# Letters that NFKD does not take apart. `ä` stood for `ə` in the 1991-92 Azerbaijani
# Latin alphabet and in files written in the Turkish code page (cp1254), which has no ə.
_FOLD = str.maketrans({"ə": "e", "Ə": "e", "ä": "e", "Ä": "e", "ı": "i", "İ": "i", "ß": "ss"})


def fold(text: str) -> str:
    """Lower case, no diacritics, single spaces: 'Şəki-Zaqatala' -> 'seki-zaqatala'."""
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return " ".join(text.casefold().split())
