"""Settings from the environment (12-factor): one place to see every knob."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from store.db import ROOT, database_url


@dataclass(frozen=True)
class Settings:
    database_url: str
    cache_dir: str
    cache_size: int  # bytes on disk for the response cache
    cache_max_entry: int  # larger responses are streamed but not cached

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=database_url(),
            cache_dir=os.environ.get("CACHE_DIR", str(ROOT / "var" / "cache")),
            cache_size=int(os.environ.get("CACHE_SIZE", 2 * 1024**3)),
            cache_max_entry=int(os.environ.get("CACHE_MAX_ENTRY", 64 * 1024**2)),
        )


def cache_dir_for(settings: Settings) -> Path:
    return Path(settings.cache_dir)
