"""The door check: refuse anything that looks like unit records.

Microdata never leave the agency. An extract is refused, before any of its values is
read into the store, when a column names or looks like an identifier of a person, or
when there is no count column (one row per person). The refusal names the column but
never echoes its values: the report itself must not carry personal data.
"""

from __future__ import annotations

import re

import pandas as pd

from publisher.text import fold

MESSAGE = ("refused: this file looks like unit records (microdata). Microdata never leave "
           "the agency: only aggregated tables of counts may be published.")

# Header words (folded: lower case, no diacritics) that identify a person, in az, en, ru.
_IDENTIFYING_HEADERS = [
    r"\bname\b", r"surname", r"first ?name", r"last ?name", r"full ?name", r"\bad\b",
    r"\bsoyad", r"ata adi", r"\bsoyadi\b", r"patronymic", r"\bимя\b", r"фамилия", r"отчество",
    r"passport", r"pasport", r"паспорт", r"\bfin\b", r"\bpin\b", r"personal (id|number|code)",
    r"identity", r"sexsiyyet", r"vesiqe", r"удостоверени", r"birth", r"dogum", r"рождени",
    r"address", r"unvan", r"адрес", r"phone", r"telefon", r"телефон", r"e-?mail",
]
_HEADER_RE = re.compile("|".join(_IDENTIFYING_HEADERS))

# Values that look like a date of birth (a full calendar date), a FIN (7 characters,
# letters and digits mixed) or a passport number (letters then 7-9 digits).
_FULL_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{2}[./]\d{2}[./]\d{4})$")
_FIN = re.compile(r"^(?=.*\d)(?=.*[A-Z])[0-9A-Z]{7}$")
_PASSPORT = re.compile(r"^[A-Z]{1,3}\d{7,9}$")


def identifying_columns(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, why) for every column that names or looks like a personal identifier."""
    found = []
    for col in frame.columns:
        header = fold(str(col))
        if _HEADER_RE.search(header):
            found.append((str(col), "its header names a personal identifier"))
            continue
        values = frame[col].astype(str).str.strip()
        values = values[values != ""]
        if values.empty:
            continue
        sample = values.head(500)
        for pattern, what in ((_FULL_DATE, "dates of birth"), (_FIN, "personal id numbers (FIN)"),
                              (_PASSPORT, "passport numbers")):
            if sample.str.match(pattern).mean() > 0.5:
                found.append((str(col), f"its values look like {what}"))
                break
    return found
