"""Response cache, keyed by the normalised query and the state of the store.

Two levels: a small in-process LRU of recent bodies (no I/O, no lock held while a body
is sent), in front of diskcache on local disk (shared by the worker processes of one
host, kept across restarts). The state token changes with every release, so a new
publication can never be hidden behind a stale entry: old entries simply stop being
asked for and age out (LRU).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator

import diskcache

#: Bodies above this size are kept on disk only (the memory level is for small answers).
MEMORY_MAX_ENTRY = 1 << 20


class MemoryLRU:
    """Least recently used bodies up to `size` bytes in all (functools.lru_cache counts
    entries, not bytes, and cannot be filled from outside the function)."""

    def __init__(self, size: int):
        self.size, self.used = size, 0
        self.entries: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self.lock:
            body = self.entries.get(key)
            if body is not None:
                self.entries.move_to_end(key)
            return body

    def set(self, key: str, body: bytes) -> None:
        if len(body) > self.size:
            return
        with self.lock:
            old = self.entries.pop(key, None)
            self.used += len(body) - (len(old) if old is not None else 0)
            self.entries[key] = body
            while self.used > self.size:
                _, dropped = self.entries.popitem(last=False)
                self.used -= len(dropped)


class ResponseCache:
    def __init__(self, directory: str, size_limit: int, max_entry: int, memory_size: int = 64 << 20):
        self.cache = diskcache.Cache(directory, size_limit=size_limit,
                                     eviction_policy="least-recently-used")
        self.max_entry = max_entry
        self.memory = MemoryLRU(memory_size)
        self.memory_max_entry = min(max_entry, MEMORY_MAX_ENTRY)

    @staticmethod
    def key(state: str, path: str, params: list[tuple[str, str]], media_type: str, lang: str) -> str:
        norm = "&".join(f"{k}={v}" for k, v in sorted(params) if k != "format")
        raw = f"{state}\n{path}\n{norm}\n{media_type}\n{lang}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, key: str) -> bytes | None:
        body = self.memory.get(key)
        if body is None:
            body = self.cache.get(key)
            if body is not None and len(body) <= self.memory_max_entry:
                self.memory.set(key, body)
        return body

    def set(self, key: str, body: bytes) -> None:
        if len(body) <= self.max_entry:
            self.cache.set(key, body)
        if len(body) <= self.memory_max_entry:
            self.memory.set(key, body)

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
            self.set(key, b"".join(kept))
