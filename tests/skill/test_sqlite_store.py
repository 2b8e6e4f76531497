"""The SQLite store on real files: one row per listener, WAL, written only when progress changed,
corrupt rows survived, and several processes writing to one file at once."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alexa_rules import spoken
from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_model import RequestEnvelope

from skill.persistence import REVISION, StaleWriteError
from skill.persistence.sqlite import BUSY_TIMEOUT_MS, SqliteAdapter

ROOT = Path(__file__).resolve().parents[2]
PERSON = "amzn1.ask.person.AEXAMPLEOTHERPERSON4WQ9ZK2M7HBDXCNJ5RYTL"
RECORD = {"schema": 1, "step": 3, "heard": [1, 2, 3], "last_heard_at": None, "question": "NONE"}


def request_envelope(event: dict[str, Any]) -> RequestEnvelope:
    return DefaultSerializer().deserialize(json.dumps(event), RequestEnvelope)


def rows(db: Path) -> dict[str, tuple[str, float]]:
    """listener -> (record text, updated_at), read through a connection of our own."""
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT listener, record, updated_at FROM progress").fetchall()
    return {listener: (record, updated) for listener, record, updated in found}


def revision(db: Path, listener: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT rev FROM progress WHERE listener = ?", (listener,)).fetchone()[
            0
        ]


def create_table(db: Path) -> None:
    """Let the adapter set the file up, as the skill would on its first request."""
    SqliteAdapter(db, partition_keygen=lambda request_envelope: "nobody").get_attributes(
        request_envelope=None
    )


def write_row(db: Path, listener: str, record_text: str, rev: int = 1) -> None:
    """A row as an earlier save left it (then, for some tests, damaged)."""
    create_table(db)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO progress (listener, record, rev, updated_at) "
            "VALUES (?, ?, ?, 0)",
            (listener, record_text, rev),
        )


def save_next(adapter: SqliteAdapter, event: RequestEnvelope, record: dict[str, Any]) -> int:
    """Save as the store contract asks: over the revision just read. Returns the new revision."""
    rev = adapter.get_attributes(request_envelope=event).get(REVISION, 0) + 1
    adapter.save_attributes(request_envelope=event, attributes={**record, REVISION: rev})
    return rev


def without_revision(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != REVISION}


# --- the adapter ----------------------------------------------------------------------------------


def test_attributes_round_trip_through_the_file(db_path: Path, envelope) -> None:
    event = request_envelope(envelope("intent"))
    assert save_next(SqliteAdapter(db_path), event, RECORD) == 1
    assert db_path.is_file()
    read = SqliteAdapter(db_path).get_attributes(request_envelope=event)
    assert without_revision(read) == RECORD, (
        "a second adapter on the same file (a new process) must read what the first saved"
    )
    assert read[REVISION] == 1


def test_an_unknown_listener_reads_as_empty(db_path: Path, envelope) -> None:
    read = SqliteAdapter(db_path).get_attributes(request_envelope=request_envelope(envelope()))
    assert without_revision(read) == {}


def test_one_row_per_listener_however_often_saved(db_path: Path, envelope) -> None:
    adapter = SqliteAdapter(db_path)
    user = request_envelope(envelope("intent"))
    person = request_envelope(envelope("intent", person_id=PERSON))
    for step in (1, 2, 3):
        save_next(adapter, user, {"step": step})
    for step in (6, 7):
        save_next(adapter, person, {"step": step})
    stored = rows(db_path)
    assert len(stored) == 2, f"expected one row per listener, got {sorted(stored)}"
    assert without_revision(json.loads(stored[PERSON][0])) == {"step": 7}
    assert without_revision(adapter.get_attributes(request_envelope=user)) == {"step": 3}
    assert revision(db_path, PERSON) == 2


def test_a_save_over_a_revision_already_replaced_is_refused(db_path: Path, envelope) -> None:
    """Two devices of one listener read revision 1; the second to save must not overwrite."""
    adapter = SqliteAdapter(db_path)
    event = request_envelope(envelope("intent"))
    save_next(adapter, event, {"step": 1})
    adapter.save_attributes(request_envelope=event, attributes={"step": 2, REVISION: 2})
    with pytest.raises(StaleWriteError):
        adapter.save_attributes(request_envelope=event, attributes={"step": 5, REVISION: 2})
    assert without_revision(adapter.get_attributes(request_envelope=event)) == {"step": 2}


def test_a_first_save_never_overwrites_an_existing_row(db_path: Path, envelope) -> None:
    adapter = SqliteAdapter(db_path)
    event = request_envelope(envelope("intent"))
    save_next(adapter, event, {"step": 4})
    with pytest.raises(StaleWriteError):
        adapter.save_attributes(request_envelope=event, attributes={"step": 1, REVISION: 1})
    assert without_revision(adapter.get_attributes(request_envelope=event)) == {"step": 4}


def test_delete_removes_only_that_listeners_row(db_path: Path, envelope) -> None:
    adapter = SqliteAdapter(db_path)
    user = request_envelope(envelope("intent"))
    person = request_envelope(envelope("intent", person_id=PERSON))
    save_next(adapter, user, {"step": 1})
    save_next(adapter, person, {"step": 2})
    adapter.delete_attributes(request_envelope=user)
    assert without_revision(adapter.get_attributes(request_envelope=user)) == {}
    assert without_revision(adapter.get_attributes(request_envelope=person)) == {"step": 2}


def test_file_is_in_wal_mode(db_path: Path, envelope) -> None:
    save_next(SqliteAdapter(db_path), request_envelope(envelope()), {"step": 1})
    with sqlite3.connect(db_path) as conn:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal", f"journal_mode is {mode!r}"


def test_parent_folders_are_created(tmp_path: Path, envelope) -> None:
    db = tmp_path / "state" / "trust-guide" / "progress.db"
    save_next(SqliteAdapter(db), request_envelope(envelope()), {"step": 1})
    assert db.is_file()


def test_threads_sharing_one_adapter_do_not_collide(db_path: Path, envelope) -> None:
    adapter = SqliteAdapter(db_path)
    events = [
        request_envelope(envelope("intent", user_id=f"amzn1.ask.account.T{i}")) for i in range(4)
    ]
    errors: list[BaseException] = []

    def work(event: RequestEnvelope) -> None:
        try:
            for step in range(50):
                save_next(adapter, event, {"step": step})
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, f"threads failed: {errors[:3]!r}"
    assert {json.loads(r)["step"] for r, _ in rows(db_path).values()} == {49}


# --- written only when progress changed (through the skill) ---------------------------------------


def test_a_request_that_changes_nothing_does_not_write(conversation, db_path: Path) -> None:
    conversation.launch()
    conversation.go_to(number="3")
    (listener,) = rows(db_path)
    with sqlite3.connect(db_path) as conn:  # mark the row: any write would stamp it again
        conn.execute("UPDATE progress SET updated_at = 0")
    record, _ = rows(db_path)[listener]

    conversation.where_am_i()  # the offer after step 3 was already "go on to step 4"
    assert "step 3" in conversation.said
    assert rows(db_path)[listener] == (record, 0.0), "WhereAmI changed nothing but wrote the row"

    conversation.next()  # control: reading step 4 does write
    new_record, updated = rows(db_path)[listener]
    assert updated > 0.0 and json.loads(new_record)["step"] == 4


def test_requests_without_progress_never_touch_the_store(skill, db_path: Path, envelope) -> None:
    for name in ("audioplayer_playback_started", "can_fulfill_intent", "skill_enabled"):
        skill.handle(envelope(name))
    assert not db_path.exists() or rows(db_path) == {}, "an event with no speech wrote progress"


def test_a_listener_who_only_opens_the_skill_is_stored(conversation, db_path: Path) -> None:
    conversation.launch()
    ((record, _),) = rows(db_path).values()
    assert json.loads(record)["step"] == 0


# --- corrupt and old rows -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "stored", ["not json {", "[1, 2, 3]", '"step three"', "null", "42"], ids=repr
)
def test_a_corrupt_row_is_treated_as_new_and_logged(
    conversation, db_path: Path, stored: str, caplog: pytest.LogCaptureFixture
) -> None:
    write_row(db_path, conversation.user_id, stored)
    with caplog.at_level(logging.WARNING):
        response = conversation.launch()
    assert spoken(response).startswith("Welcome to Trust Guide"), spoken(response)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings, "a corrupt row must be logged"
    assert conversation.user_id not in caplog.text, "logs must not hold user ids"
    record = json.loads(rows(db_path)[conversation.user_id][0])
    assert isinstance(record, dict) and record["schema"] == 1, "the row was not rewritten"


def test_a_row_with_a_corrupt_record_inside_is_reset(conversation, db_path: Path) -> None:
    write_row(db_path, conversation.user_id, json.dumps({"schema": 1, "step": "abc"}))
    assert conversation.launch()["response"]["shouldEndSession"] is False
    assert spoken(conversation.last).startswith("Welcome to Trust Guide")
    conversation.next()
    assert json.loads(rows(db_path)[conversation.user_id][0])["step"] == 1


def test_an_old_version_record_is_migrated_and_rewritten(conversation, db_path: Path) -> None:
    write_row(
        db_path, conversation.user_id, json.dumps({"current_step": 3, "steps_heard": [1, 2, 3]})
    )
    conversation.launch()
    assert "Last time you heard step 3, Create a Safe Environment" in conversation.said
    record = json.loads(rows(db_path)[conversation.user_id][0])
    assert record["schema"] == 1 and record["step"] == 3 and record["heard"] == [1, 2, 3]


def test_a_file_from_before_revisions_keeps_saving(conversation, db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:  # the table as the first release created it
        conn.execute(
            "CREATE TABLE progress (listener TEXT PRIMARY KEY, record TEXT NOT NULL, "
            "updated_at REAL NOT NULL)"
        )
        conn.execute(
            "INSERT INTO progress VALUES (?, ?, 0)",
            (conversation.user_id, json.dumps({**RECORD, "last_heard_at": "2024-05-13T09:30:00Z"})),
        )
    conversation.launch()
    assert "Last time you heard step 3" in conversation.said
    conversation.next()
    assert "couldn't save" not in conversation.said, conversation.said
    assert json.loads(rows(db_path)[conversation.user_id][0])["step"] == 4


# --- two processes on one file ------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from skill.persistence import REVISION, StaleWriteError
    from skill.persistence.sqlite import BUSY_TIMEOUT_MS, SqliteAdapter

    db, key, name, count, go = sys.argv[1:]
    adapter = SqliteAdapter(db, partition_keygen=lambda request_envelope: key)
    deadline = time.monotonic() + 30
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    errors, conflicts = [], 0
    for i in range(int(count)):
        record = {"schema": 1, "step": i % 8 + 1, "writer": name, "i": i}
        for attempt in range(1000):  # the store contract: read, write over that revision, retry
            try:
                rev = adapter.get_attributes(request_envelope=None).get(REVISION, 0) + 1
                adapter.save_attributes(request_envelope=None, attributes={**record, REVISION: rev})
                break
            except StaleWriteError:
                conflicts += 1
            except Exception as exc:
                errors.append(repr(exc))
                break
    print(json.dumps({"errors": errors, "conflicts": conflicts}))
    """
)
SAVES = 200


@pytest.mark.parametrize(
    "same_listener", [False, True], ids=["different listeners", "same listener"]
)
def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path, same_listener: bool) -> None:
    db = tmp_path / "shared.db"
    SqliteAdapter(db, partition_keygen=lambda request_envelope: "setup").get_attributes(
        request_envelope=None
    )  # set up once: the set-up race has its own test below
    go = tmp_path / "go"
    writers = []
    for name in ("a", "b"):
        key = "shared-listener" if same_listener else f"listener-{name}"
        writers.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(db), key, name, str(SAVES), str(go)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    time.sleep(0.3)  # both interpreters up and waiting
    go.touch()
    results = [writer.communicate(timeout=60) for writer in writers]
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err[-2000:]
        assert "database is locked" not in err + out, (err + out)[-2000:]
        errors = json.loads(out)["errors"]
        assert not errors, f"{len(errors)} saves failed, first: {errors[:3]}"
    stored = {k: json.loads(record) for k, (record, _) in rows(db).items()}
    if same_listener:
        assert list(stored) == ["shared-listener"]
        assert stored["shared-listener"]["i"] == SAVES - 1
        assert revision(db, "shared-listener") == 2 * SAVES, "a save was lost or counted twice"
    else:
        assert {k: (v["writer"], v["i"]) for k, v in stored.items()} == {
            "listener-a": ("a", SAVES - 1),
            "listener-b": ("b", SAVES - 1),
        }
        assert revision(db, "listener-a") == revision(db, "listener-b") == SAVES
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_opening_the_file_while_another_process_sets_it_up_waits(tmp_path: Path) -> None:
    db = tmp_path / "progress.db"
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE setting_up (x)")  # another process, part way through its set-up
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, other.execute, args=("COMMIT",))
    release.start()
    try:
        adapter = SqliteAdapter(db, partition_keygen=lambda request_envelope: "someone")
        started = time.monotonic()
        assert without_revision(adapter.get_attributes(request_envelope=None)) == {}
        assert time.monotonic() - started < BUSY_TIMEOUT_MS / 1000
    finally:
        release.join()
        other.close()
