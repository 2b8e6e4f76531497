"""Both stores against the same contract, on real storage: a fresh SQLite file and a fresh table on
a local DynamoDB-compatible server (moto's server mode, see conftest.py). No boto3 mocks: the
point is to meet what DynamoDB really hands back (Decimal) and really refuses (floats, stale
conditional writes, a store that is down)."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from ask_sdk_core.exceptions import PersistenceException
from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_model import RequestEnvelope
from devices import Device

from skill.builder import build_skill
from skill.config import ConfigError
from skill.envelopes import (
    Listener,
    intent_request,
    new_session_id,
)
from skill.persistence import StaleWriteError, build_adapter

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import LocalDynamoDB, Store

    AwsEnv = Callable[[str | None], None]

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALEXA_DEADLINE = 8.0  # seconds Alexa waits for a response: a correctness bound, not a benchmark

USER = "amzn1.ask.account.AEXAMPLESTOREUSER2QKZ7M4BLNVHJ6ZR5DUWOCTA3PYSGIE"
OTHER_USER = "amzn1.ask.account.AEXAMPLEOTHERUSER9XK3M2ZL7QHBDWNC5RYTFJ4VPUSGE"
PERSON = "amzn1.ask.person.AEXAMPLEPERSONQ7ZK2M4HBDXCNJ5RYTL"


def free_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request_envelope(listener: Listener, *, context: bool = True) -> RequestEnvelope:
    """A real IntentRequest envelope for `listener`, as the SDK hands it to an adapter."""
    event = listener.envelope(intent_request("AMAZON.NextIntent"), new_session_id(), False)
    if not context:  # the older shape: only session.user names the listener
        del event["context"]
    return DefaultSerializer().deserialize(json.dumps(event), RequestEnvelope)


def record(step: int, rev: int, **extra: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "step": step,
        "heard": list(range(1, step + 1)),
        "last_heard_at": f"2026-11-26T20:{step:02d}:00Z",
        "question": "GO_ON",
        "rev": rev,
        **extra,
    }


def kinds(value: Any) -> set[type]:
    """Every type found in a nested record."""
    found = {type(value)}
    if isinstance(value, dict):
        for item in value.values():
            found |= kinds(item)
    elif isinstance(value, list | set):
        for item in value:
            found |= kinds(item)
    return found


# --- the contract, on both stores -------------------------------------------------------------


def test_missing_record_reads_as_empty(store: Store) -> None:
    assert store.adapter.get_attributes(request_envelope=request_envelope(Listener(USER))) == {}


def test_record_round_trips_with_plain_numbers(store: Store) -> None:
    envelope = request_envelope(Listener(USER))
    saved = record(3, rev=1, pause={"kind": "breathing", "seconds": 60, "offset_ms": 12500})
    store.adapter.save_attributes(request_envelope=envelope, attributes=saved)
    loaded = store.another_adapter().get_attributes(request_envelope=envelope)
    assert loaded == saved
    assert Decimal not in kinds(loaded), f"{store.kind} handed back Decimal: {loaded}"
    assert type(loaded["step"]) is int and type(loaded["rev"]) is int
    assert all(type(n) is int for n in loaded["heard"])


def test_a_float_comes_back_as_a_float(store: Store) -> None:
    envelope = request_envelope(Listener(USER))
    store.adapter.save_attributes(request_envelope=envelope, attributes=record(1, 1, volume=0.25))
    assert store.adapter.get_attributes(request_envelope=envelope)["volume"] == 0.25


def test_person_user_and_account_keep_separate_records(store: Store) -> None:
    """A recognised speaker has a place of their own; the account's place is the user id's,
    whether the envelope carries context.System or only session.user."""
    account, person, other = Listener(USER), Listener(USER, person_id=PERSON), Listener(OTHER_USER)
    for listener, step in [(account, 2), (person, 5), (other, 7)]:
        store.adapter.save_attributes(
            request_envelope=request_envelope(listener), attributes=record(step, rev=1)
        )
    read = store.another_adapter().get_attributes
    assert read(request_envelope=request_envelope(account))["step"] == 2
    assert read(request_envelope=request_envelope(person))["step"] == 5
    assert read(request_envelope=request_envelope(other))["step"] == 7
    assert read(request_envelope=request_envelope(account, context=False))["step"] == 2
    stranger = Listener(USER, person_id="amzn1.ask.person.AEXAMPLEGUESTSPEAKER")
    assert read(request_envelope=request_envelope(stranger)) == {}


def test_write_succeeds_only_over_the_revision_read(store: Store) -> None:
    envelope = request_envelope(Listener(USER))
    store.adapter.save_attributes(request_envelope=envelope, attributes=record(1, rev=1))
    store.adapter.save_attributes(request_envelope=envelope, attributes=record(2, rev=2))
    late = store.another_adapter()  # a second writer that read rev 1 before the save above
    with pytest.raises(StaleWriteError):
        late.save_attributes(request_envelope=envelope, attributes=record(6, rev=2))
    with pytest.raises(StaleWriteError):  # and a first record cannot replace an existing one
        late.save_attributes(request_envelope=envelope, attributes=record(6, rev=1))
    assert store.adapter.get_attributes(request_envelope=envelope) == record(2, rev=2)
    store.adapter.save_attributes(request_envelope=envelope, attributes=record(3, rev=3))
    assert store.adapter.get_attributes(request_envelope=envelope)["step"] == 3


def test_stale_write_is_a_persistence_exception(store: Store) -> None:
    """The interceptor catches PersistenceException for store faults; a conflict is one too."""
    envelope = request_envelope(Listener(USER))
    store.adapter.save_attributes(request_envelope=envelope, attributes=record(1, rev=1))
    with pytest.raises(PersistenceException) as caught:
        store.adapter.save_attributes(request_envelope=envelope, attributes=record(1, rev=5))
    assert isinstance(caught.value, StaleWriteError)
    assert USER not in str(caught.value)


@pytest.mark.parametrize("existing_rev", [0, 4])
def test_two_devices_that_read_the_same_revision_one_wins(store: Store, existing_rev: int) -> None:
    """Kitchen and bedroom Echo both read rev N, both save rev N+1: exactly one write lands, the
    other gets StaleWriteError, and after re-reading it can save N+2 over the winner."""
    envelope = request_envelope(Listener(USER))
    for rev in range(1, existing_rev + 1):
        store.adapter.save_attributes(request_envelope=envelope, attributes=record(rev, rev=rev))
    kitchen, bedroom = store.another_adapter(), store.another_adapter()
    seen_k = kitchen.get_attributes(request_envelope=envelope)
    seen_b = bedroom.get_attributes(request_envelope=envelope)
    assert seen_k.get("rev", 0) == seen_b.get("rev", 0) == existing_rev
    kitchen.save_attributes(request_envelope=envelope, attributes=record(5, existing_rev + 1))
    with pytest.raises(StaleWriteError):
        bedroom.save_attributes(request_envelope=envelope, attributes=record(7, existing_rev + 1))
    assert store.adapter.get_attributes(request_envelope=envelope) == record(5, existing_rev + 1)
    again = bedroom.get_attributes(request_envelope=envelope)
    bedroom.save_attributes(request_envelope=envelope, attributes=record(7, again["rev"] + 1))
    assert store.adapter.get_attributes(request_envelope=envelope) == record(7, existing_rev + 2)


def test_many_devices_saving_at_once_exactly_one_wins(store: Store) -> None:
    """Eight threads, each its own adapter (own connection or boto3 resource), read the same
    revision, wait for each other, then all save the next one at the same moment."""
    envelope = request_envelope(Listener(USER))
    store.adapter.save_attributes(request_envelope=envelope, attributes=record(1, rev=1))
    devices = [store.another_adapter() for _ in range(8)]
    barrier = threading.Barrier(len(devices))
    outcomes: dict[int, str] = {}

    def device(n: int) -> None:
        seen = devices[n].get_attributes(request_envelope=envelope)
        barrier.wait(timeout=30)
        try:
            devices[n].save_attributes(
                request_envelope=envelope, attributes=record(2, seen["rev"] + 1, device=n)
            )
            outcomes[n] = "saved"
        except StaleWriteError:
            outcomes[n] = "stale"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes[n] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=device, args=(n,)) for n in range(len(devices))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == ["saved"] + ["stale"] * 7, outcomes
    (winner,) = [n for n, outcome in outcomes.items() if outcome == "saved"]
    assert store.adapter.get_attributes(request_envelope=envelope) == record(2, 2, device=winner)


@pytest.mark.parametrize("store", ["sqlite", "dynamodb"], indirect=True)
def test_a_record_from_before_revisions_is_replaced_by_rev_1(store: Store) -> None:
    envelope = request_envelope(Listener(USER))
    old = {"schema": 1, "step": 2, "heard": [1, 2], "last_heard_at": None, "question": "NONE"}
    if store.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(store.url.removeprefix("sqlite://")) as conn:  # the old schema
            conn.execute(
                "CREATE TABLE progress (listener TEXT PRIMARY KEY, record TEXT NOT NULL, "
                "updated_at REAL NOT NULL)"
            )
            conn.execute("INSERT INTO progress VALUES (?, ?, 0)", (USER, json.dumps(old)))
    else:
        import boto3

        table = boto3.resource("dynamodb").Table(store.url.removeprefix("dynamodb://"))
        table.put_item(Item={"id": USER, "attributes": old})
    adapter = store.another_adapter()
    seen = adapter.get_attributes(request_envelope=envelope)
    assert seen.get("rev", 0) == 0 and seen["step"] == 2
    adapter.save_attributes(request_envelope=envelope, attributes=record(3, rev=1))
    assert adapter.get_attributes(request_envelope=envelope) == record(3, rev=1)


# --- the skill on each store --------------------------------------------------------------------


def test_skill_saves_and_resumes_on_the_store(store: Store) -> None:
    """Real envelopes through build_skill: the place is kept with plain ints, and a new skill
    object (another Lambda container) on the same store resumes there."""
    listener = Listener(USER)
    device = Device(build_skill(store.settings), listener)
    assert "Welcome to Trust Guide" in device.launch()
    assert "Step 1:" in device.say("AMAZON.YesIntent")
    assert "Step 2:" in device.say("AMAZON.NextIntent")
    stored = store.adapter.get_attributes(request_envelope=request_envelope(listener))
    assert stored["step"] == 2 and stored["heard"] == [1, 2], stored
    assert Decimal not in kinds(stored) and type(stored["rev"]) is int

    elsewhere = Device(build_skill(store.settings), listener)
    assert "Welcome back. Last time you heard step 2" in elsewhere.launch()
    assert "Step 3:" in elsewhere.say("AMAZON.YesIntent")
    assert "couldn't save" not in elsewhere.say("AMAZON.NextIntent")
    stored = store.adapter.get_attributes(request_envelope=request_envelope(listener))
    assert stored["step"] == 4 and stored["heard"] == [1, 2, 3, 4], stored

    person = Device(build_skill(store.settings), Listener(USER, person_id=PERSON))
    assert "Welcome to Trust Guide" in person.launch(), "a recognised speaker starts afresh"


# --- DynamoDB only ------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRUST_GUIDE_"))}
    env.update(AWS_CONFIG_FILE="/nonexistent/aws-config", AWS_EC2_METADATA_DISABLED="true")
    env.update(extra)
    return env


def test_importing_the_skill_needs_no_region_and_loads_no_aws_sdk() -> None:
    code = (
        "import sys, skill.builder, skill.persistence, skill.persistence.dynamodb\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'ask_sdk_dynamodb'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_a_dynamodb_store_without_a_region_is_a_config_error() -> None:
    """In a fresh interpreter, so the SDK's import-time boto3 resource is really attempted."""
    code = (
        "from skill.builder import build_skill\n"
        "from skill.config import ConfigError, Settings\n"
        "try:\n"
        "    build_skill(Settings(store='dynamodb://progress'))\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('no ConfigError')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "AWS_DEFAULT_REGION" in done.stdout and "region" in done.stdout


def test_building_the_adapter_without_a_region_in_process(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_env(None)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ConfigError, match="AWS_DEFAULT_REGION"):
        build_adapter("dynamodb://progress")


def test_create_table_is_on_demand_and_says_when_it_exists(dynamodb_server: LocalDynamoDB) -> None:
    import boto3

    from skill.persistence.dynamodb import create_table

    name = "trust-guide-create-test"
    said = create_table(name)
    region = os.environ["AWS_DEFAULT_REGION"]
    assert said.startswith(f"created DynamoDB table {name} in {region}"), said
    table = boto3.client("dynamodb").describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    again = create_table(name)
    assert "already exists" in again and "left as it is" in again, again
    boto3.client("dynamodb").delete_table(TableName=name)


def test_the_skill_never_creates_its_table(dynamodb_server: LocalDynamoDB) -> None:
    import boto3

    adapter = build_adapter("dynamodb://trust-guide-no-such-table")
    with pytest.raises(PersistenceException, match="ResourceNotFound"):
        adapter.get_attributes(request_envelope=request_envelope(Listener(USER)))
    assert "trust-guide-no-such-table" not in boto3.client("dynamodb").list_tables()["TableNames"]


def test_floats_are_sent_as_numbers_and_non_finite_ones_refused(dynamodb_table: str) -> None:
    """boto3 alone refuses floats ("Float types are not supported"); the adapter sends them."""
    adapter = build_adapter(f"dynamodb://{dynamodb_table}")
    envelope = request_envelope(Listener(USER))
    adapter.save_attributes(
        request_envelope=envelope, attributes=record(1, 1, gain=1.5, levels=[0.1, 2.0])
    )
    loaded = adapter.get_attributes(request_envelope=envelope)
    assert loaded["gain"] == 1.5 and loaded["levels"] == [0.1, 2]  # a whole 2.0 comes back as 2
    with pytest.raises(ValueError, match="cannot store nan"):
        adapter.save_attributes(
            request_envelope=envelope, attributes=record(2, 2, gain=float("nan"))
        )


def timed(call: Any) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - returned to the test
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


def test_unreachable_store_fails_fast(aws_env: AwsEnv) -> None:
    aws_env(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    adapter = build_adapter("dynamodb://progress")
    envelope = request_envelope(Listener(USER))
    for call in (
        lambda: adapter.get_attributes(request_envelope=envelope),
        lambda: adapter.save_attributes(request_envelope=envelope, attributes=record(1, 1)),
    ):
        took, error = timed(call)
        assert isinstance(error, PersistenceException), error
        assert not isinstance(error, StaleWriteError)
        assert took < ALEXA_DEADLINE, f"{took:.1f} s"
        assert USER not in str(error)


def test_hanging_store_times_out_and_the_request_stops_trying(
    dynamodb_table: str, dynamodb_server: LocalDynamoDB
) -> None:
    """A frozen server accepts connections and never answers: the read timeout ends each call,
    and once a request has spent its budget its later store calls fail at once."""
    adapter = build_adapter(f"dynamodb://{dynamodb_table}")
    envelope = request_envelope(Listener(USER))
    dynamodb_server.pause()
    took, error = timed(lambda: adapter.get_attributes(request_envelope=envelope))
    assert isinstance(error, PersistenceException), error
    assert 1.0 <= took < ALEXA_DEADLINE, f"{took:.1f} s"
    took, error = timed(
        lambda: adapter.save_attributes(request_envelope=envelope, attributes=record(1, 1))
    )
    assert isinstance(error, PersistenceException) and "not starting another" in str(error)
    assert took < 0.5, f"{took:.1f} s"
    dynamodb_server.resume()
    fresh = request_envelope(Listener(USER))  # the next request tries again, and gets through
    adapter.save_attributes(request_envelope=fresh, attributes=record(1, 1))
    assert adapter.get_attributes(request_envelope=fresh) == record(1, 1)


class ThrottlingHandler(http.server.BaseHTTPRequestHandler):
    """Answers every DynamoDB call as a throttled table does."""

    calls = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput was exceeded.",
            }
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def throttling_endpoint() -> Iterator[str]:
    ThrottlingHandler.calls = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ThrottlingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_throttled_store_retries_once_then_gives_up(
    throttling_endpoint: str, aws_env: AwsEnv
) -> None:
    from skill.persistence.dynamodb import MAX_ATTEMPTS

    aws_env(throttling_endpoint)
    adapter = build_adapter("dynamodb://progress")
    took, error = timed(
        lambda: adapter.get_attributes(request_envelope=request_envelope(Listener(USER)))
    )
    assert isinstance(error, PersistenceException), error
    assert "ProvisionedThroughputExceeded" in str(error)
    assert ThrottlingHandler.calls == MAX_ATTEMPTS
    assert took < ALEXA_DEADLINE, f"{took:.1f} s"


def test_the_server_keeps_its_tables_across_a_restart(
    dynamodb_table: str, dynamodb_server: LocalDynamoDB
) -> None:
    """The fixture the store-fault tests lean on: stop() refuses connections, start() brings
    back the same tables and items."""
    adapter = build_adapter(f"dynamodb://{dynamodb_table}")
    envelope = request_envelope(Listener(USER))
    adapter.save_attributes(request_envelope=envelope, attributes=record(3, 1))
    dynamodb_server.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", dynamodb_server.port)) != 0, "port still open"
    with pytest.raises(PersistenceException):
        adapter.get_attributes(request_envelope=request_envelope(Listener(USER)))
    dynamodb_server.start()
    assert adapter.get_attributes(request_envelope=request_envelope(Listener(USER))) == record(3, 1)
