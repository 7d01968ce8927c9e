"""Response cache (diskcache), keyed by the normalised query and the state of the store.

The state token changes with every release, so a new publication can never be hidden
behind a stale entry: old entries simply stop being asked for and age out (LRU).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import diskcache


class ResponseCache:
    def __init__(self, directory: str, size_limit: int, max_entry: int):
        self.cache = diskcache.Cache(directory, size_limit=size_limit,
                                     eviction_policy="least-recently-used")
        self.max_entry = max_entry

    @staticmethod
    def key(state: str, path: str, params: list[tuple[str, str]], media_type: str, lang: str) -> str:
        norm = "&".join(f"{k}={v}" for k, v in sorted(params) if k != "format")
        raw = f"{state}\n{path}\n{norm}\n{media_type}\n{lang}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, key: str) -> bytes | None:
        return self.cache.get(key)

    def tee(self, key: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Pass chunks through; store the whole body once complete, if it is not too big."""
        kept: list[bytes] | None = []
        size = 0
        for chunk in chunks:
            if kept is not None:
                size += len(chunk)
                if size > self.max_entry:
                    kept = None
                else:
                    kept.append(chunk)
            yield chunk
        if kept is not None:
            self.cache.set(key, b"".join(kept))
