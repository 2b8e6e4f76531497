"""Where listeners' progress is stored: chosen by the TRUST_GUIDE_STORE URL.

`sqlite:///ABSOLUTE/PATH.db` (the default, embedded) or `dynamodb://TABLE` (production). Store
modules are imported only when chosen, so the Lambda never loads what it does not use.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ask_sdk_core.attributes_manager import AbstractPersistenceAdapter


def build_adapter(store: str) -> AbstractPersistenceAdapter:
    parts = urlsplit(store)
    if parts.scheme == "sqlite":
        from skill.persistence.sqlite import SqliteAdapter

        return SqliteAdapter("/" + parts.path.lstrip("/"))  # sqlite:////abs works as well
    raise ValueError(f"unsupported store {store!r}")
