"""A durable, ordered queue of activity writes the CRM could not take yet.

A local SQLite file (`[crm] spool_path`), `synchronous=FULL` so an append is on disk (fsync'd)
before `record_call` returns. Entries are replayed oldest first. An entry the database
rejects for a reason that is not an outage (bad data) is set aside as "dead", kept in the
file for inspection, so it cannot block the ones behind it.

Blocking calls (fsync): the activity log runs them in its own thread.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    spooled_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    dead INTEGER NOT NULL DEFAULT 0
)"""


@dataclass(frozen=True)
class SpoolEntry:
    seq: int
    kind: str  # "call", "wrapup" or "wrapup_timeout"
    params: dict
    attempts: int


def _encode(params: dict) -> str:
    def default(value):
        if isinstance(value, datetime):
            return {"$datetime": value.isoformat()}
        raise TypeError(f"cannot spool {type(value).__name__}")

    return json.dumps(params, default=default, ensure_ascii=False)


def _decode(text: str) -> dict:
    def hook(obj):
        if len(obj) == 1 and "$datetime" in obj:
            return datetime.fromisoformat(obj["$datetime"])
        return obj

    return json.loads(text, object_hook=hook)


class ActivitySpool:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one connection, used from the log's thread and at start
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute(_SCHEMA)

    def append(self, kind: str, params: dict) -> int:
        payload = _encode(params)
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO spooled (kind, payload, spooled_at) VALUES (?, ?, ?)", (kind, payload, time.time())
            )
            return cursor.lastrowid

    def head(self, limit: int = 100) -> list[SpoolEntry]:
        """The oldest live entries, in the order they were spooled."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, kind, payload, attempts FROM spooled WHERE dead = 0 ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [SpoolEntry(seq, kind, _decode(payload), attempts) for seq, kind, payload, attempts in rows]

    def remove(self, seqs: list[int]) -> None:
        if not seqs:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany("DELETE FROM spooled WHERE seq = ?", [(s,) for s in seqs])
            self._conn.execute("COMMIT")

    def note_failure(self, seq: int, error: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE spooled SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (error[:500], seq)
            )

    def bury(self, seq: int, error: str) -> None:
        """Set an entry aside for good: the database refused it for reasons an outage does not explain."""
        with self._lock:
            self._conn.execute(
                "UPDATE spooled SET dead = 1, attempts = attempts + 1, last_error = ? WHERE seq = ?", (error[:500], seq)
            )

    def pending_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM spooled WHERE dead = 0").fetchone()[0]

    def dead_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM spooled WHERE dead = 1").fetchone()[0]

    def dead_entries(self) -> list[tuple[SpoolEntry, str]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, kind, payload, attempts, last_error FROM spooled WHERE dead = 1 ORDER BY seq"
            ).fetchall()
        return [(SpoolEntry(seq, kind, _decode(p), n), err) for seq, kind, p, n, err in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
