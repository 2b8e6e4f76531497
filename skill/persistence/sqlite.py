"""Progress in an embedded SQLite file: the default store, needing no server.

An ask-sdk `AbstractPersistenceAdapter` (called by keyword: `request_envelope=`, `attributes=`).
One row per listener holding the record as JSON. The file is in WAL mode, so readers never block
the writer and several processes (web workers, a terminal chat) can share it; `synchronous=NORMAL`
in WAL survives a crashed process (only a power cut can lose the last commit) and saves the fsync
per request that the default journal would cost. Stores plain dicts; progress.py reads them.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ask_sdk_core.attributes_manager import AbstractPersistenceAdapter
from ask_sdk_core.exceptions import PersistenceException
from ask_sdk_model import RequestEnvelope

from skill.persistence import REVISION, StaleWriteError
from skill.persistence.keys import listener_key

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 2000  # a locked file waits this long: well inside Alexa's 8 s to answer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (
    listener   TEXT PRIMARY KEY,
    record     TEXT NOT NULL,
    updated_at REAL NOT NULL
)
"""


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL. The switch does not wait on the busy timeout (SQLite answers
    "locked" at once while another process holds the file), so wait here, within the same bound."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise PersistenceException(f"opening progress store: {exc}") from exc
            time.sleep(0.01)


def _set_up(conn: sqlite3.Connection) -> None:
    """Create the table, or add the revision column to a file from before revisions, in one
    write transaction, so two processes opening a new file cannot both try."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(progress)")}
        if "rev" not in columns:
            conn.execute("ALTER TABLE progress ADD COLUMN rev INTEGER NOT NULL DEFAULT 0")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class SqliteAdapter(AbstractPersistenceAdapter):
    """Persistent attributes in one SQLite file; one connection per thread, opened lazily."""

    def __init__(
        self,
        path: str | Path,
        partition_keygen: Callable[[RequestEnvelope], str] = listener_key,
    ) -> None:
        self.path = Path(path)
        self.partition_keygen = partition_keygen
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # not a folder, or not ours to write: a store fault like any
                raise PersistenceException(
                    f"progress store folder {self.path.parent}: {exc}"
                ) from exc
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            _use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            with self._ready_lock:
                if not self._ready:
                    _set_up(conn)
                    self._ready = True
            self._local.conn = conn
        return conn

    def get_attributes(self, request_envelope: RequestEnvelope) -> dict[str, Any]:
        key = self.partition_keygen(request_envelope)
        try:
            row = (
                self._connection()
                .execute("SELECT record, rev FROM progress WHERE listener = ?", (key,))
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise PersistenceException(f"reading progress from {self.path}: {exc}") from exc
        if row is None:
            return {}
        try:
            record = json.loads(row[0])
        except (TypeError, ValueError):
            record = None
        if not isinstance(record, dict):
            # keep the revision, so the next save replaces the bad row instead of conflicting
            log.warning("progress row is not a JSON object; treating it as empty")
            return {REVISION: row[1]}
        record[REVISION] = row[1]
        return record

    def save_attributes(
        self, request_envelope: RequestEnvelope, attributes: dict[str, Any]
    ) -> None:
        """Write only over the revision that was read (see the store contract in __init__)."""
        key = self.partition_keygen(request_envelope)
        rev = int(attributes.get(REVISION, 1))
        text = json.dumps(attributes, separators=(",", ":"), sort_keys=True)
        now = time.time()
        try:
            if rev <= 1:  # a first record: only if there is none, or one from before revisions
                cursor = self._connection().execute(
                    "INSERT INTO progress (listener, record, rev, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(listener) DO UPDATE SET record = excluded.record, "
                    "rev = excluded.rev, updated_at = excluded.updated_at WHERE progress.rev = 0",
                    (key, text, rev, now),
                )
            else:  # one statement, so the check and the write are one atomic step
                cursor = self._connection().execute(
                    "UPDATE progress SET record = ?, rev = ?, updated_at = ? "
                    "WHERE listener = ? AND rev = ?",
                    (text, rev, now, key, rev - 1),
                )
        except sqlite3.Error as exc:
            raise PersistenceException(f"saving progress to {self.path}: {exc}") from exc
        if cursor.rowcount != 1:
            raise StaleWriteError(f"progress revision {rev - 1} is no longer the latest")

    def delete_attributes(self, request_envelope: RequestEnvelope) -> None:
        key = self.partition_keygen(request_envelope)
        try:
            self._connection().execute("DELETE FROM progress WHERE listener = ?", (key,))
        except sqlite3.Error as exc:
            raise PersistenceException(f"deleting progress from {self.path}: {exc}") from exc
