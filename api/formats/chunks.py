"""Chunked output: join small strings and hand them on in blocks of about 256 KB."""

from __future__ import annotations

from collections.abc import Iterator

CHUNK = 256 * 1024


class Chunker:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> bytes | None:
        """Append; return a block when enough has gathered."""
        self.parts.append(text)
        self.size += len(text)
        if self.size >= CHUNK:
            return self.flush()
        return None

    def flush(self) -> bytes:
        out = "".join(self.parts).encode("utf-8")
        self.parts, self.size = [], 0
        return out


def series_groups(rows) -> Iterator[tuple[tuple[str, ...], list]]:
    """Group rows (sorted by key) into (key, [rows]) one series at a time."""
    key, batch = None, []
    for row in rows:
        if row.key != key:
            if batch:
                yield key, batch
            key, batch = row.key, []
        batch.append(row)
    if batch:
        yield key, batch
