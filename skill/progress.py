"""A listener's progress through the guide: one small, typed, versioned record.

Owns: `Progress` (plain Python, no SDK types), `Question` (what the skill last asked, so that
"yes" means the right thing), and the conversion to and from the stored dict, including migration
of old records and the reset of corrupt ones. Persistence adapters store plain dicts; only this
module turns them into Progress. Standard library only.
"""

import logging
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class Question(Enum):
    """The question the skill asked last; stored by name."""

    NONE = "NONE"
    GO_ON = "GO_ON"  # "Shall I go on to step 5?"
    RESUME = "RESUME"  # "Welcome back… shall I go on with step 5?"
    START_OVER = "START_OVER"  # after the last step: "Would you like to start over?"
    LIST_STEPS = "LIST_STEPS"  # after "no" to resuming: "Would you like the list of steps?"
    WHICH_STEP = "WHICH_STEP"  # after the list, or a step we could not find
    OFFER_PAUSE = "OFFER_PAUSE"  # "Would you like a one-minute breathing pause before step 4?"
    AFTER_PAUSE = "AFTER_PAUSE"  # after a pause: "Shall we go on with step 4?"
    PAUSE_KIND = "PAUSE_KIND"  # "Which kind of pause would you like?"


class Visit(NamedTuple):
    """This session's part of a listener's state, kept in session attributes, never stored.

    `in_a_row` counts steps heard since the session began or the last pause; `offered` is set
    once the guide has offered a pause after three in a row (once a session is enough).
    """

    in_a_row: int = 0
    offered: bool = False

    @classmethod
    def from_session(cls, value: Any) -> "Visit":
        if not isinstance(value, dict):
            return cls()
        in_a_row = value.get("in_a_row", 0)
        return cls(in_a_row if isinstance(in_a_row, int) else 0, value.get("offered") is True)

    def to_session(self) -> dict[str, Any]:
        return {"in_a_row": self.in_a_row, "offered": self.offered}


class Progress(NamedTuple):
    """Where one listener is. `step` is the last step read to them (0: none yet).

    A NamedTuple, not a frozen dataclass: it is as immutable, and far cheaper to create at import
    (the Lambda's cold start pays for each class)."""

    step: int = 0
    heard: frozenset[int] = frozenset()
    last_heard_at: str | None = None  # ISO 8601, UTC
    question: Question = Question.NONE
    pause_kind: str | None = None  # the listener's last pause: offers suggest the same again
    pause_length_s: int | None = None
    visit: Visit = Visit()  # session-only: not in to_record()

    @property
    def started(self) -> bool:
        return self.step > 0 or bool(self.heard)

    def heard_step(self, number: int, now: str) -> "Progress":
        """`number` read now. Steps "in a row" count moves to another step, not repeats."""
        moved = 1 if number != self.step else 0
        visit = self.visit._replace(in_a_row=self.visit.in_a_row + moved)
        return self._replace(
            step=number, heard=self.heard | {number}, last_heard_at=now, visit=visit
        )

    def stored_part(self) -> "Progress":
        """This progress without its session-only part: what decides whether to save."""
        return self._replace(visit=Visit())

    def asking(self, question: Question) -> "Progress":
        return self._replace(question=question)

    def merged_with(self, other: "Progress") -> "Progress":
        """This progress after another device saved `other` meanwhile: nothing heard is lost.

        Steps heard are the union; the place (step, when) is the most recently heard one, ours
        on a tie; the pending question is ours, since this device asked it.
        """
        newer = other if (other.last_heard_at or "") > (self.last_heard_at or "") else self
        return self._replace(
            step=newer.step, last_heard_at=newer.last_heard_at, heard=self.heard | other.heard
        )

    def to_record(self) -> dict[str, Any]:
        """The stored shape: JSON- and DynamoDB-friendly (ints, strings, lists; no floats)."""
        return {
            "schema": SCHEMA_VERSION,
            "step": self.step,
            "heard": sorted(self.heard),
            "last_heard_at": self.last_heard_at,
            "question": self.question.value,
            "pause": {"kind": self.pause_kind, "length_s": self.pause_length_s},
        }


class Loaded(NamedTuple):
    """The outcome of reading a stored record: the progress, and what had to be done to it."""

    progress: Progress
    outcome: str  # "new", "ok", "migrated", "repaired" or "reset"


def _from_v0(record: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (unversioned prototype): {"current_step": n, "steps_heard": [...]}."""
    return {
        "schema": 1,
        "step": record.get("current_step", 0),
        "heard": record.get("steps_heard", []),
        "last_heard_at": record.get("last_heard_at"),
        "question": "NONE",
    }


# schema version -> function upgrading a record of that version by one step
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _from_v0}


def _as_int(value: Any) -> int:
    """Whole numbers only; DynamoDB hands numbers back as Decimal, JSON as int."""
    if isinstance(value, bool | str | bytes):
        raise ValueError(f"not a number: {value!r}")
    number = int(value)  # int, whole float or Decimal (not imported: it costs a cold start)
    if number != value:
        raise ValueError(f"not a whole number: {value!r}")
    return number


def from_record(record: Any, total_steps: int) -> "Loaded":
    """Turn a stored dict into Progress. Never raises: a bad record is migrated or reset."""
    if record is None or record == {}:
        return Loaded(Progress(), "new")
    if not isinstance(record, dict):
        log.warning("progress reset: stored record is a %s, not an object", type(record).__name__)
        return Loaded(Progress(), "reset")
    outcome = "ok"
    try:
        version = _as_int(record.get("schema", 0))
        while version < SCHEMA_VERSION:
            record = MIGRATIONS[version](record)
            version = _as_int(record["schema"])
            outcome = "migrated"
        if version > SCHEMA_VERSION:
            log.warning("progress record has newer schema %s; reading the fields we know", version)
        step = _as_int(record.get("step", 0))
        heard = frozenset(_as_int(n) for n in record.get("heard") or ())
        stamp = record.get("last_heard_at")
        question = Question(record.get("question") or "NONE")
        pause = record.get("pause") or {}
        if not isinstance(pause, dict):
            raise ValueError("pause is not an object")
        pause_kind = pause.get("kind") if isinstance(pause.get("kind"), str) else None
        pause_length = _as_int(pause["length_s"]) if pause.get("length_s") is not None else None
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("progress reset: corrupt record (%s)", exc)
        return Loaded(Progress(), "reset")
    valid_heard = frozenset(n for n in heard if 1 <= n <= total_steps)
    valid_step = step if 0 <= step <= total_steps else 0
    if valid_heard != heard or valid_step != step or not isinstance(stamp, str | None):
        log.warning("progress repaired: step or heard steps out of 1..%d", total_steps)
        outcome = "repaired"
        stamp = stamp if isinstance(stamp, str) else None
    progress = Progress(
        step=valid_step,
        heard=valid_heard,
        last_heard_at=stamp,
        question=question,
        pause_kind=pause_kind,
        pause_length_s=pause_length,
    )
    if outcome == "migrated":
        log.info("progress migrated to schema %d", SCHEMA_VERSION)
    return Loaded(progress, outcome)
