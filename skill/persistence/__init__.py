"""Where listeners' progress is stored: chosen by the TRUST_GUIDE_STORE URL.

`sqlite:///ABSOLUTE/PATH.db` (the default, embedded) or `dynamodb://TABLE` (production). Store
modules are imported only when chosen, so the Lambda never loads what it does not use.

The contract every store keeps: records are plain dicts, partitioned by `keys.listener_key`,
carrying an integer revision `rev`. A save writes only if the stored revision is `rev - 1` (no
record counts as 0); otherwise it raises `StaleWriteError`, and the caller re-reads and merges.
Two devices of one listener saving at once therefore never overwrite each other blindly.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ask_sdk_core.attributes_manager import AbstractPersistenceAdapter
from ask_sdk_core.exceptions import PersistenceException

REVISION = "rev"


class StaleWriteError(PersistenceException):
    """Another device saved this listener's record since it was read."""


def build_adapter(store: str) -> AbstractPersistenceAdapter:
    parts = urlsplit(store)
    if parts.scheme == "sqlite":
        from skill.persistence.sqlite import SqliteAdapter

        return SqliteAdapter("/" + parts.path.lstrip("/"))  # sqlite:////abs works as well
    if parts.scheme == "dynamodb":
        from skill.persistence.dynamodb import build_dynamodb_adapter

        return build_dynamodb_adapter(parts.netloc)
    raise ValueError(f"unsupported store {store!r}")
