"""Two devices at once, and a store that goes away, through the real skill on real stores.

Every turn is a real envelope (skill.envelopes.Listener) handled by build_skill(Settings(...)), with
the session attributes carried from each response to the next request, as a device does. The
stores are real: a SQLite file, and a table on the local DynamoDB-compatible server of conftest.py,
which the tests stop, freeze and start again. Faults are made for real (a stopped or frozen server,
a SQLite file locked by another writer or not there at all), never by mocking the store; the only
test-only code is a thin wrapper around one adapter's methods that fixes the order of two devices'
requests, and counts the writes that landed.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from ask_sdk_core.attributes_manager import AbstractPersistenceAdapter
from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_model import RequestEnvelope
from devices import Device

from skill import content as content_module
from skill.builder import build_skill
from skill.config import Settings
from skill.envelopes import Listener, Slot, intent_request, new_session_id
from skill.persistence import REVISION, StaleWriteError, build_adapter
from skill.progress import from_record

if TYPE_CHECKING:
    from conftest import LocalDynamoDB, Store

pytestmark = pytest.mark.integration

# Alexa waits 8 s for a response. The skill must answer well inside it even when its store is
# down or hangs: a correctness bound, not a benchmark.
ANSWER_BOUND = 6.0

USER = "amzn1.ask.account.AEXAMPLEFAULTUSER3QKZ7M4BLNVHJ6ZR5DUWOCTA3PYSGIE"
PHRASES = json.loads(
    (Path(content_module.__file__).parent / "data" / "en-US" / "phrases.json").read_text("utf-8")
)["said"]
NOT_SAVED, NOT_LOADED = PHRASES["NotSaved"], PHRASES["NotLoaded"]
APOLOGY = PHRASES["Apology"]
TOTAL = content_module.load().total


# --- a device, and what is stored -----------------------------------------------------------------


def envelope_of(listener: Listener) -> RequestEnvelope:
    """A real envelope for `listener`, as the SDK hands one to an adapter."""
    event = listener.envelope(intent_request("AMAZON.NextIntent"), new_session_id(), False)
    return DefaultSerializer().deserialize(json.dumps(event), RequestEnvelope)


def stored(url: str, listener: Listener) -> dict[str, Any]:
    """The listener's record as a fresh adapter (another container) reads it."""
    return build_adapter(url).get_attributes(request_envelope=envelope_of(listener))


def assert_valid(record: dict[str, Any]) -> None:
    loaded = from_record({k: v for k, v in record.items() if k != REVISION}, TOTAL)
    assert loaded.outcome == "ok", f"stored record is not valid ({loaded.outcome}): {record}"


def no_notice(said: str) -> bool:
    return NOT_SAVED not in said and NOT_LOADED not in said and APOLOGY not in said


# --- two devices of one listener at once, on both stores ------------------------------------------


class Counted:
    """Counts the writes that landed through one skill's adapter, and the revisions it read.

    Wraps the real adapter's bound methods on the instance (the store itself is untouched);
    `before_save`, when set, runs once before the next save reaches the store."""

    def __init__(self, adapter: AbstractPersistenceAdapter) -> None:
        self.saved = 0
        self.stale = 0
        self.reads: list[int] = []
        self.before_save: Callable[[], None] | None = None
        real_get, real_save = adapter.get_attributes, adapter.save_attributes

        def get_attributes(request_envelope: RequestEnvelope) -> dict[str, Any]:
            record = real_get(request_envelope=request_envelope)
            self.reads.append(int(record.get(REVISION, 0)))
            return record

        def save_attributes(request_envelope: RequestEnvelope, attributes: dict[str, Any]) -> None:
            hook, self.before_save = self.before_save, None
            if hook is not None:
                hook()
            try:
                real_save(request_envelope=request_envelope, attributes=attributes)
            except StaleWriteError:
                self.stale += 1
                raise
            self.saved += 1

        adapter.get_attributes = get_attributes  # type: ignore[method-assign]
        adapter.save_attributes = save_attributes  # type: ignore[method-assign]


def next_second() -> None:
    """Wait until the wall clock's second changes: the skill stamps steps to the second."""
    start = datetime.now(UTC).replace(microsecond=0)
    while datetime.now(UTC).replace(microsecond=0) == start:
        time.sleep(0.01)


def test_two_devices_hearing_steps_at_once_lose_nothing(store: Store) -> None:
    """Kitchen (A) and bedroom (B) Echo of one listener, each its own skill object (its own
    container and connection). A's "next" (step 2) and B's "go to step 5" both read the same
    revision; B's write lands first, A's conflicts, re-reads, merges and lands after it."""
    listener = Listener(USER)
    skill_a, skill_b = build_skill(store.settings), build_skill(store.settings)
    a = Device(skill_a, Listener(USER, device_id="amzn1.ask.device.KITCHEN"))
    b = Device(skill_b, Listener(USER, device_id="amzn1.ask.device.BEDROOM"))
    count_a = Counted(skill_a.custom_skill.persistence_adapter)
    count_b = Counted(skill_b.custom_skill.persistence_adapter)

    assert "Welcome to Trust Guide" in a.launch()
    assert "Welcome to Trust Guide" in b.launch()
    assert "Step 1:" in a.say("AMAZON.YesIntent")
    rev_before = stored(store.url, listener)[REVISION]
    reads_a, reads_b = len(count_a.reads), len(count_b.reads)

    heard_b: list[str] = []

    def b_goes_to_step_5() -> None:  # while A's save waits: B's whole request, later in time
        next_second()
        heard_b.append(b.say("GoToStepIntent", Slot("number", "5")))

    count_a.before_save = b_goes_to_step_5
    heard_a = a.say("AMAZON.NextIntent")

    assert "Step 2:" in heard_a and no_notice(heard_a), heard_a
    assert heard_b and "Step 5:" in heard_b[0] and no_notice(heard_b[0]), heard_b
    assert a.open and b.open
    first_read_a, read_b = count_a.reads[reads_a], count_b.reads[reads_b]
    assert first_read_a == read_b == rev_before, "both devices read the same revision first"
    assert count_a.stale == 1 and count_b.stale == 0, "A's first write conflicted, once"

    record = stored(store.url, listener)
    assert_valid(record)
    assert {1, 2, 5} <= set(record["heard"]), record
    assert record["step"] == 5, "the place is the step heard most recently"
    assert record[REVISION] == count_a.saved + count_b.saved, "one revision per write that landed"
    assert record[REVISION] == rev_before + 2, record

    # Each conversation goes on from its own place ("yes" answers what that device asked), with
    # every step heard on the other device counted; the stored place stays the newest one.
    for device, own_step in ((a, 2), (b, 5)):
        where = device.say("WhereAmIIntent")
        assert f"You're on step {own_step} of {TOTAL}" in where and no_notice(where), where
        assert f"heard 3 of the {TOTAL}" in where, where
        assert device.open
    record = stored(store.url, listener)
    assert_valid(record)
    assert record["step"] == 5 and record["heard"] == [1, 2, 5], record
    assert record[REVISION] == count_a.saved + count_b.saved
    assert "Last time you heard step 5" in a.launch(), "a new session resumes at the newest place"


# --- store faults mid-conversation ----------------------------------------------------------------


class Fault(NamedTuple):
    """A store, and a real way to make it fail and to mend it."""

    url: str
    start: Callable[[], None]  # the store fails from now on
    end: Callable[[], None]  # the store works again
    notice: str  # what the listener hears about it
    logged: str  # the start of the warning logged by skill.request


@pytest.fixture
def fault(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fault]:
    kind = request.param
    if kind.startswith("dynamodb"):
        table = request.getfixturevalue("dynamodb_table")
        server: LocalDynamoDB = request.getfixturevalue("dynamodb_server")
        start = server.stop if kind == "dynamodb-stopped" else server.pause
        yield Fault(f"dynamodb://{table}", start, server.start, NOT_LOADED, "progress not loaded")
        server.start()  # running again whatever the test did (the fixture does so too)
        return
    # SQLite: another process holds the write lock (a stuck writer, a long backup). Readers go
    # on (WAL); a write waits for the busy timeout and fails with "database is locked".
    path = tmp_path / "progress.db"
    holder: list[sqlite3.Connection] = []

    def lock() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        holder.append(conn)

    def unlock() -> None:
        while holder:
            conn = holder.pop()
            conn.execute("ROLLBACK")
            conn.close()

    yield Fault(f"sqlite:///{path}", lock, unlock, NOT_SAVED, "progress not saved")
    unlock()


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "skill.request" and r.levelno >= logging.WARNING
    ]


def request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "skill.request" and r.getMessage().startswith("request ")
    ]


@pytest.mark.parametrize(
    "fault", ["dynamodb-stopped", "dynamodb-hung", "sqlite-locked"], indirect=True
)
def test_store_fault_mid_conversation(
    fault: Fault, caplog: pytest.LogCaptureFixture, record_property: Callable[..., None]
) -> None:
    """Launch, yes, next; the store fails; "next" still reads step 3, in time, with a notice
    once a session; the store comes back and the next turn saves everything heard."""
    listener = Listener(USER)
    device = Device(build_skill(Settings(store=fault.url)), listener)
    caplog.set_level(logging.INFO, logger="skill.request")
    assert "Welcome to Trust Guide" in device.launch()
    assert "Step 1:" in device.say("AMAZON.YesIntent")
    assert "Step 2:" in device.say("AMAZON.NextIntent")
    assert stored(fault.url, listener)["heard"] == [1, 2]

    fault.start()
    caplog.clear()
    said = device.say("AMAZON.NextIntent")
    first_took = device.took
    assert first_took < ANSWER_BOUND, f"answered after {first_took:.2f} s"
    assert "Step 3:" in said, said
    assert fault.notice in said and APOLOGY not in said, said
    assert device.open, "the session stays open after a store fault"
    logged = warnings_logged(caplog)
    assert any(m.startswith(fault.logged) for m in logged), logged
    assert any("store_error=" in m and "store_error=-" not in m for m in request_lines(caplog))
    assert all(USER not in r.getMessage() for r in caplog.records), "no user id in the log"

    caplog.clear()
    said = device.say("WhereAmIIntent")  # still failing: the place, and no second notice
    second_took = device.took
    assert second_took < ANSWER_BOUND, f"answered after {second_took:.2f} s"
    assert f"You're on step 3 of {TOTAL}" in said, said
    assert no_notice(said), "the notice is said once a session"
    assert device.open
    assert any(m.startswith(fault.logged) for m in warnings_logged(caplog)), "every failure logged"
    record_property("answer_seconds", f"{max(first_took, second_took):.2f}")
    print(f"\n{fault.url.split(':')[0]} fault: answers in {first_took:.2f} s, {second_took:.2f} s")

    fault.end()
    caplog.clear()
    said = device.say("AMAZON.NextIntent")
    assert "Step 4:" in said and no_notice(said), said
    assert device.open
    assert not warnings_logged(caplog), warnings_logged(caplog)
    record = stored(fault.url, listener)
    assert_valid(record)
    assert record["step"] == 4 and record["heard"] == [1, 2, 3, 4], record
    assert "unsaved" not in device.attributes, "the session's copy is saved now"


# --- a store that cannot be read when a session starts --------------------------------------------


class Outage(NamedTuple):
    url: str
    start: Callable[[], None]
    end: Callable[[], None]


@pytest.fixture
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    kind = request.param
    if kind == "dynamodb":
        table = request.getfixturevalue("dynamodb_table")
        server: LocalDynamoDB = request.getfixturevalue("dynamodb_server")
        yield Outage(f"dynamodb://{table}", server.stop, server.start)
        server.start()
        return
    # SQLite: the file cannot be opened (a directory stands where the file should be), as for
    # a volume not mounted yet; a new container opens its connection on first use and fails.
    path = tmp_path / "progress.db"
    away = tmp_path / "progress.db.away"

    def hide() -> None:
        if path.exists():
            path.rename(away)
        path.mkdir()

    def restore() -> None:
        if path.is_dir():
            shutil.rmtree(path)
        if away.exists():
            away.rename(path)

    yield Outage(f"sqlite:///{path}", hide, restore)
    restore()


def checkpointed(url: str) -> None:
    """Fold SQLite's write-ahead log into the file, so the file alone holds every record."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.mark.parametrize("outage", ["dynamodb", "sqlite"], indirect=True)
def test_new_listener_launching_while_the_store_is_down(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    listener = Listener(USER)
    outage.start()
    device = Device(build_skill(Settings(store=outage.url)), listener)  # a cold container
    caplog.set_level(logging.INFO, logger="skill.request")
    said = device.launch()
    assert device.took < ANSWER_BOUND, f"answered after {device.took:.2f} s"
    assert NOT_LOADED in said and "Welcome to Trust Guide" in said, said
    assert said.index(NOT_LOADED) < said.index("Welcome"), "the notice comes first"
    assert device.open
    assert any(m.startswith("progress not loaded") for m in warnings_logged(caplog))

    outage.end()
    caplog.clear()
    said = device.say("AMAZON.YesIntent")
    assert "Step 1:" in said and no_notice(said), said
    assert not warnings_logged(caplog), warnings_logged(caplog)
    record = stored(outage.url, listener)
    assert_valid(record)
    assert record["step"] == 1 and record["heard"] == [1], record


@pytest.mark.parametrize("outage", ["dynamodb", "sqlite"], indirect=True)
def test_returning_listener_launching_while_the_store_is_down(outage: Outage) -> None:
    """Unable to read the listener's place, the skill welcomes them as new and offers step 1.
    Their "yes" once the store is back should play the step offered, and keep what they heard
    before."""
    listener = Listener(USER)
    earlier = Device(build_skill(Settings(store=outage.url)), listener)
    earlier.launch()
    earlier.say("AMAZON.YesIntent")
    earlier.say("AMAZON.NextIntent")
    assert stored(outage.url, listener)["heard"] == [1, 2]
    checkpointed(outage.url)

    outage.start()
    device = Device(build_skill(Settings(store=outage.url)), listener)  # a cold container
    said = device.launch()
    assert NOT_LOADED in said and "Welcome to Trust Guide" in said, said
    assert "with step 1," in said, said
    assert device.open

    outage.end()
    said = device.say("AMAZON.YesIntent")
    assert no_notice(said), said
    record = stored(outage.url, listener)
    assert_valid(record)
    assert {1, 2} <= set(record["heard"]), "nothing heard before is lost"
    assert "Step 1:" in said, f"yes to 'begin with step 1' played: {said[:60]!r}"
