"""skill.progress: the versioned record; old ones migrate, bad ones reset or repair, none raise."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import pytest

from skill.progress import SCHEMA_VERSION, Loaded, Progress, Question, from_record

TOTAL = 8
STAMP = "2024-05-14T18:00:00Z"


def place(progress: Progress) -> tuple[int, frozenset[int], str | None, Question]:
    """The part of progress this issue defines: where, what was heard, when, what was asked."""
    return progress.step, progress.heard, progress.last_heard_at, progress.question


def test_progress_round_trips_through_its_record() -> None:
    progress = Progress(step=4, heard=frozenset({1, 2, 4}), last_heard_at=STAMP).asking(
        Question.RESUME
    )
    loaded = from_record(progress.to_record(), TOTAL)
    assert loaded.outcome == "ok"
    assert loaded.progress == progress


def test_record_is_json_and_dynamodb_friendly() -> None:
    record = Progress(step=3, heard=frozenset({3, 1, 2}), last_heard_at=STAMP).to_record()
    assert {k: record[k] for k in ("schema", "step", "heard", "last_heard_at", "question")} == {
        "schema": SCHEMA_VERSION,
        "step": 3,
        "heard": [1, 2, 3],
        "last_heard_at": STAMP,
        "question": "NONE",
    }
    assert json.loads(json.dumps(record)) == record

    def floats(value: Any) -> list[float]:
        if isinstance(value, dict):
            return [f for v in value.values() for f in floats(v)]
        if isinstance(value, list):
            return [f for v in value for f in floats(v)]
        return [value] if isinstance(value, float) else []

    assert not floats(record), "DynamoDB cannot store floats"


def test_question_is_stored_by_name() -> None:
    for question in Question:
        assert Progress().asking(question).to_record()["question"] == question.name


@pytest.mark.parametrize("missing", [None, {}])
def test_missing_record_is_a_new_listener(missing: Any) -> None:
    loaded = from_record(missing, TOTAL)
    assert loaded == Loaded(Progress(), "new")
    assert not loaded.progress.started


def test_version_0_record_is_migrated(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="skill.progress")
    loaded = from_record({"current_step": 3, "steps_heard": [1, 2, 3]}, TOTAL)
    assert loaded.outcome == "migrated"
    assert loaded.progress == Progress(step=3, heard=frozenset({1, 2, 3}))
    assert "migrated" in caplog.text


def test_migrated_record_is_saved_in_the_current_schema() -> None:
    loaded = from_record({"current_step": 2, "steps_heard": [1, 2]}, TOTAL)
    assert loaded.progress.to_record()["schema"] == SCHEMA_VERSION


def test_version_0_record_with_a_bad_step_is_reset() -> None:
    loaded = from_record({"current_step": "three", "steps_heard": [1]}, TOTAL)
    assert loaded == Loaded(Progress(), "reset")


def test_decimal_numbers_from_dynamodb_are_read() -> None:
    record = {
        "schema": Decimal(1),
        "step": Decimal(5),
        "heard": [Decimal(4), Decimal(5)],
        "last_heard_at": STAMP,
        "question": "GO_ON",
    }
    loaded = from_record(record, TOTAL)
    assert loaded.outcome == "ok"
    assert place(loaded.progress) == (5, frozenset({4, 5}), STAMP, Question.GO_ON)
    assert all(type(n) is int for n in loaded.progress.heard), "heard kept Decimals"
    assert type(loaded.progress.step) is int


def test_newer_schema_is_read_for_the_fields_we_know(caplog: pytest.LogCaptureFixture) -> None:
    record = {
        "schema": SCHEMA_VERSION + 1,
        "step": 6,
        "heard": [1, 6],
        "last_heard_at": STAMP,
        "question": "GO_ON",
        "a_field_from_the_future": {"token": "x", "offset": 12000},
    }
    with caplog.at_level(logging.WARNING, logger="skill.progress"):
        loaded = from_record(record, TOTAL)
    assert place(loaded.progress) == (6, frozenset({1, 6}), STAMP, Question.GO_ON)
    assert "newer schema" in caplog.text


@pytest.mark.parametrize(
    "record",
    [
        [1, 2, 3],
        "step 3",
        42,
        {"schema": 1, "step": "abc", "heard": []},
        {"schema": 1, "step": None, "heard": []},
        {"schema": 1, "step": True, "heard": []},
        {"schema": 1, "step": 2.5, "heard": []},
        {"schema": 1, "step": Decimal("2.5"), "heard": []},
        {"schema": 1, "step": 2, "heard": ["one", "two"]},
        {"schema": 1, "step": 2, "heard": "12"},
        {"schema": 1, "step": 2, "heard": 12},
        {"schema": 1, "step": 2, "heard": [None]},
        {"schema": 1, "step": 2, "heard": [{"n": 1}]},
        {"schema": 1, "step": 2, "heard": [1, 2], "question": "DANCE"},
        {"schema": 1, "step": 2, "heard": [1, 2], "question": 7},
        {"schema": "one", "step": 2},
        {"schema": -1, "step": 2},
    ],
    ids=lambda r: json.dumps(r, default=str)[:40],
)
def test_corrupt_record_is_reset_and_logged(record: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="skill.progress"):
        loaded = from_record(record, TOTAL)
    assert loaded == Loaded(Progress(), "reset"), f"{record!r} gave {loaded}"
    assert "progress reset" in caplog.text, "a reset must be logged"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"schema": 1, "step": 99, "heard": [1, 2]}, Progress(0, frozenset({1, 2}))),
        ({"schema": 1, "step": -1, "heard": [1]}, Progress(0, frozenset({1}))),
        ({"schema": 1, "step": 3, "heard": [0, 3, 9, -2]}, Progress(3, frozenset({3}))),
        ({"schema": 1, "step": 3, "heard": [3], "last_heard_at": 1715700000}, Progress(3, {3})),
    ],
    ids=["step 99", "step -1", "heard out of range", "stamp not text"],
)
def test_out_of_range_values_are_repaired_keeping_the_rest(
    record: dict[str, Any], expected: Progress, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="skill.progress"):
        loaded = from_record(record, TOTAL)
    assert loaded.outcome == "repaired"
    assert loaded.progress.step == expected.step
    assert loaded.progress.heard == frozenset(expected.heard)
    assert loaded.progress.last_heard_at is None
    assert "repaired" in caplog.text


def test_step_is_checked_against_this_guides_length() -> None:
    assert from_record({"schema": 1, "step": 8, "heard": [8]}, 8).outcome == "ok"
    assert from_record({"schema": 1, "step": 8, "heard": [8]}, 7).outcome == "repaired"


def test_heard_step_records_the_step_and_when() -> None:
    progress = Progress().heard_step(2, STAMP).heard_step(5, "2024-05-15T09:00:00Z")
    assert progress.step == 5
    assert progress.heard == {2, 5}
    assert progress.last_heard_at == "2024-05-15T09:00:00Z"
    assert progress.started
