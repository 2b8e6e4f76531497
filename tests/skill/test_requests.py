"""Whole Alexa request envelopes through lambda/lambda_function.py and through build_skill, with a
real SQLite file: every request type answered within Alexa's rules, never an exception escaping."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alexa_rules import assert_alexa_response, ends_session, reprompted, speech_forbidden, spoken
from ask_sdk_core.exceptions import PersistenceException

from skill import guide
from skill.builder import build_skill
from skill.config import Settings
from skill.persistence.sqlite import SqliteAdapter

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_FILE = ROOT / "lambda" / "lambda_function.py"
ACCOUNT = "amzn1.ask.account.AEXAMPLEUSERID7QFXKZ2M4BLNVHJ6ZR5DUWOCTA3PYSGIE"
PERSON_A = "amzn1.ask.person.AEXAMPLEPERSONAAAAQ3H6Y2NVZ7WBKCDJUE4L"
PERSON_B = "amzn1.ask.person.AEXAMPLEPERSONBBBBM4BLNVHJ6ZR5DUWOCTA3"
SPOKEN_TYPES = {
    "LaunchRequest",
    "IntentRequest",
    "Alexa.Presentation.APL.UserEvent",
    "Display.ElementSelected",
    "Connections.Response",
}
ENVELOPE_NAMES = sorted(p.stem for p in (ROOT / "tests" / "envelopes").glob("*.json"))
RANGE = re.compile(r"\b(1|one) to (8|eight)\b")

Handle = Callable[[dict[str, Any]], dict[str, Any]]


def import_lambda_module() -> Any:
    """Import lambda/lambda_function.py from its path, as the Lambda runtime would (it builds the
    skill at import, from the environment)."""
    name = f"lambda_function_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, LAMBDA_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def lambda_handler(monkeypatch: pytest.MonkeyPatch, db_path: Path) -> Handle:
    monkeypatch.setenv("TRUST_GUIDE_STORE", f"sqlite:///{db_path}")
    module = import_lambda_module()
    return lambda event: module.lambda_handler(event, None)


@pytest.fixture(params=["lambda_handler", "build_skill"])
def handle(request: pytest.FixtureRequest, skill) -> Handle:
    """Each test runs through both ways in: the Lambda entry point and the built skill."""
    if request.param == "lambda_handler":
        return request.getfixturevalue("lambda_handler")
    return skill.handle


def answer(handle: Handle, event: dict[str, Any]) -> dict[str, Any]:
    """Send one event, and check the response against Alexa's rules."""
    response = handle(event)
    assert_alexa_response(response, event["request"]["type"])
    return response


def assert_listening(response: dict[str, Any]) -> None:
    assert response["response"].get("shouldEndSession") is False, "the session should stay open"
    assert reprompted(response), "an open session needs a reprompt"


# --- the Lambda entry point ---------------------------------------------------------------------


def test_lambda_module_exposes_lambda_handler_and_uses_the_configured_store(
    lambda_handler: Handle, envelope, db_path: Path
) -> None:
    assert not db_path.exists()
    response = answer(lambda_handler, envelope("launch"))
    assert spoken(response).startswith("Welcome to Trust Guide")
    assert db_path.is_file(), "the Lambda did not store progress where TRUST_GUIDE_STORE says"


def test_lambda_remembers_between_warm_invocations(lambda_handler: Handle, envelope) -> None:
    answer(lambda_handler, envelope("goto_number_5"))
    response = answer(lambda_handler, envelope("launch"))
    assert "Last time you heard step 5, Be Consistent and Reliable" in spoken(response)


# --- every request type -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENVELOPE_NAMES)
def test_every_request_type_is_answered_within_alexas_rules(
    handle: Handle, envelope, name: str
) -> None:
    event = envelope(name)
    request_type = event["request"]["type"]
    response = answer(handle, event)
    if request_type in SPOKEN_TYPES:
        assert spoken(response), f"{name}: {request_type} deserves an answer"
        if not ends_session(response):
            assert reprompted(response)
    else:
        assert speech_forbidden(request_type), f"{name}: add {request_type} to one list or other"
        assert not spoken(response)


@pytest.mark.parametrize("name", ENVELOPE_NAMES)
def test_every_request_type_is_answered_without_a_context(handle: Handle, envelope, name) -> None:
    """The older shape: session only. (Events that carry no session then name no listener at all,
    which the skill must survive too.)"""
    answer(handle, envelope(name, context=False))


def test_launch_welcomes_a_new_listener_and_says_how_to_move_around(
    handle: Handle, envelope
) -> None:
    response = answer(handle, envelope("launch"))
    text = spoken(response).lower()
    assert text.startswith("welcome to trust guide")
    assert re.search(r"\b(8|eight) steps\b", text), text
    for hint in ("next", "repeat", "go to a step", "list the steps"):
        assert hint in text, f"the welcome does not mention {hint!r}: {text}"
    assert_listening(response)


@pytest.mark.parametrize(
    "intent", ["AMAZON.StopIntent", "AMAZON.CancelIntent", "AMAZON.NavigateHomeIntent"]
)
def test_stop_cancel_and_navigate_home_say_goodbye_and_end(
    handle: Handle, envelope, intent: str
) -> None:
    response = answer(handle, envelope("intent", intent=intent))
    assert "goodbye" in spoken(response).lower()
    assert ends_session(response)
    assert not reprompted(response)


def test_help_explains_and_listens(handle: Handle, envelope) -> None:
    response = answer(handle, envelope("intent", intent="AMAZON.HelpIntent"))
    assert "go to step three" in spoken(response)
    assert_listening(response)


def test_an_unknown_intent_gets_the_fallback_answer(handle: Handle, envelope) -> None:
    response = answer(handle, envelope("intent", intent="OrderPizzaIntent"))
    assert spoken(response).startswith("Sorry, I can't help with that here.")
    assert_listening(response)


def test_a_locale_without_content_is_answered_in_the_default(handle: Handle, envelope) -> None:
    response = answer(handle, envelope("goto_number_5", locale="en-GB"))
    assert spoken(response).startswith("Step 5: Be Consistent and Reliable.")


def test_a_step_read_shows_a_card_with_its_title_and_text(handle: Handle, envelope) -> None:
    card = answer(handle, envelope("goto_topic_match"))["response"]["card"]
    assert card["type"] == "Simple"
    assert card["title"] == "Step 4: Set Clear Boundaries"
    assert card["content"].startswith("Establishing clear boundaries is crucial")


# --- slots --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "opening"),
    [
        ("goto_number_5", "Step 5: Be Consistent and Reliable."),
        ("goto_topic_match", "Step 4: Set Clear Boundaries."),
        ("goto_topic_no_match", "Step 4: Set Clear Boundaries."),
    ],
)
def test_go_to_reads_the_step_named_by_number_or_topic(
    handle: Handle, envelope, name: str, opening: str
) -> None:
    response = answer(handle, envelope(name))
    assert spoken(response).startswith(opening), spoken(response)
    assert_listening(response)


@pytest.mark.parametrize(
    ("words", "opening"),
    [("empathy", "Step 6: Offer Empathy"), ("the one about therapy", "Step 7: Seek Professional")],
)
def test_raw_topic_words_without_a_match_are_matched_by_the_skill(
    handle: Handle, envelope, words: str, opening: str
) -> None:
    response = answer(handle, envelope("goto_topic_no_match", slots={"topic": (words, None)}))
    assert spoken(response).startswith(opening), spoken(response)


def test_a_resolved_topic_id_wins_over_its_words(handle: Handle, envelope) -> None:
    """Entity resolution matched a synonym ("limits") to the id; the id is what counts."""
    response = answer(handle, envelope("goto_topic_match", slots={"topic": ("limits", "safety")}))
    assert spoken(response).startswith("Step 3: Create a Safe Environment.")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("goto_number_42", "There's no step 42."),
        ("goto_number_0", "There's no step 0."),
        ("goto_number_unknown", "Sorry, I didn't catch that number."),
    ],
)
def test_out_of_range_numbers_name_the_range_and_keep_listening(
    handle: Handle, envelope, name: str, expected: str
) -> None:
    response = answer(handle, envelope(name))
    text = spoken(response)
    assert text.startswith(expected), text
    assert RANGE.search(text), f"the answer does not name the range: {text}"
    assert_listening(response)
    assert "card" not in response["response"]


def test_a_slot_with_no_value_asks_which_step(handle: Handle, envelope) -> None:
    response = answer(handle, envelope("goto_no_value"))
    assert spoken(response).startswith("Sure. Which step?")
    assert_listening(response)


def test_an_unknown_topic_says_what_it_could_not_find(handle: Handle, envelope) -> None:
    event = envelope("goto_topic_no_match", slots={"topic": ("quantum physics", None)})
    response = answer(handle, event)
    assert "couldn't find a step about quantum physics" in spoken(response)
    assert_listening(response)


# --- whose progress -----------------------------------------------------------------------------


def test_without_a_context_progress_is_kept_by_session_user(handle: Handle, envelope) -> None:
    answer(handle, envelope("goto_number_5", context=False))
    response = answer(handle, envelope("launch"))
    assert "Last time you heard step 5" in spoken(response), (
        "the session.user id of an old-shape request must key the same progress as context"
    )


def test_two_persons_on_one_account_keep_two_places(handle: Handle, envelope) -> None:
    answer(handle, envelope("goto_number_5", person_id=PERSON_A, slots={"number": "6"}))
    answer(handle, envelope("goto_number_5", person_id=PERSON_B, slots={"number": "2"}))
    answer(handle, envelope("goto_number_5", slots={"number": "4"}))  # no one recognised

    def resumes(**listener: str) -> str:
        return spoken(answer(handle, envelope("launch", **listener)))

    assert "Last time you heard step 6" in resumes(person_id=PERSON_A)
    assert "Last time you heard step 2" in resumes(person_id=PERSON_B)
    assert "Last time you heard step 4" in resumes()
    other = "amzn1.ask.person.AEXAMPLEPERSONCCCCQ9ZK2M7HBDXCNJ5RYTL"
    assert resumes(person_id=other).startswith("Welcome to Trust Guide")


def test_person_envelope_from_alexa_keys_progress_by_person(handle: Handle, envelope) -> None:
    answer(handle, envelope("intent_with_person"))  # NextIntent: step 1, for the person
    assert spoken(answer(handle, envelope("launch"))).startswith("Welcome to Trust Guide"), (
        "the account user must not inherit the recognised person's place"
    )


# --- CanFulfillIntentRequest --------------------------------------------------------------------


def can_fulfill(handle: Handle, envelope, **changes: Any) -> dict[str, Any]:
    return answer(handle, envelope("can_fulfill_intent", **changes))["response"]["canFulfillIntent"]


def test_can_fulfill_step_five(handle: Handle, envelope) -> None:
    verdict = can_fulfill(handle, envelope)
    assert verdict["canFulfill"] == "YES"
    assert verdict["slots"]["number"] == {"canUnderstand": "YES", "canFulfill": "YES"}


@pytest.mark.parametrize("number", ["42", "0", "?"])
def test_cannot_fulfill_a_step_out_of_range(handle: Handle, envelope, number: str) -> None:
    verdict = can_fulfill(handle, envelope, slots={"number": number})
    assert verdict["canFulfill"] == "NO"
    assert verdict["slots"]["number"]["canFulfill"] == "NO"


def test_can_fulfill_a_topic_named_in_own_words(handle: Handle, envelope) -> None:
    verdict = can_fulfill(handle, envelope, slots={"topic": ("the one about boundaries", None)})
    assert verdict["canFulfill"] == "YES"


def test_cannot_fulfill_an_unknown_intent(handle: Handle, envelope) -> None:
    verdict = can_fulfill(handle, envelope, intent="OrderPizzaIntent")
    assert verdict["canFulfill"] == "NO"


# --- failures -----------------------------------------------------------------------------------


def stored_step(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        ((record,),) = conn.execute("SELECT record FROM progress").fetchall()
    return json.loads(record)["step"]


def place(handle: Handle, envelope) -> str:
    return spoken(answer(handle, envelope("intent", intent="WhereAmIIntent")))


def test_a_failing_handler_apologises_listens_and_keeps_the_place(
    skill, envelope, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    answer(skill.handle, envelope("goto_number_5", slots={"number": "3"}))
    real_advance = guide.advance

    def advance_failing_on_next(progress, command, content, now):
        if isinstance(command, guide.Next):
            raise RuntimeError("a bug in the guide")
        return real_advance(progress, command, content, now)

    monkeypatch.setattr(guide, "advance", advance_failing_on_next)
    event = envelope("intent", intent="AMAZON.NextIntent")
    with caplog.at_level(logging.ERROR):
        response = answer(skill.handle, event)
    assert spoken(response).startswith("Sorry, something went wrong"), spoken(response)
    assert_listening(response)
    assert event["request"]["requestId"] in caplog.text and "RuntimeError" in caplog.text
    assert ACCOUNT not in caplog.text, "the error log must not hold the user id"
    monkeypatch.undo()
    assert "You're on step 3 of 8" in place(skill.handle, envelope)


def test_a_store_that_cannot_save_keeps_the_stored_place(
    handle: Handle, envelope, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(handle, envelope("goto_number_5", slots={"number": "3"}))

    def save_fails(self, request_envelope, attributes):
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(SqliteAdapter, "save_attributes", save_fails)
    response = answer(handle, envelope("intent", intent="AMAZON.NextIntent"))
    assert spoken(response), "the listener must hear something"
    assert_listening(response)
    monkeypatch.undo()
    assert "You're on step 3 of 8" in place(handle, envelope)


def test_a_save_that_fails_is_said_and_made_good_later_in_the_session(
    make_conversation, monkeypatch: pytest.MonkeyPatch, db_path: Path
) -> None:
    talk = make_conversation()
    talk.launch()
    talk.go_to(number="3")
    real_save = SqliteAdapter.save_attributes
    failures = iter([PersistenceException("saving progress: database is locked")])

    def save_fails_once(self, request_envelope, attributes):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_save(self, request_envelope=request_envelope, attributes=attributes)

    monkeypatch.setattr(SqliteAdapter, "save_attributes", save_fails_once)
    talk.next()
    assert "Step 4: Set Clear Boundaries." in talk.said, "the listener still gets the step"
    assert "couldn't save your place" in talk.said, "and is told it may not be kept"
    assert stored_step(db_path) == 3

    talk.where_am_i()  # the same session carries the unsaved place and saves it now
    assert "You're on step 4 of 8" in talk.said
    assert "couldn't save" not in talk.said
    assert stored_step(db_path) == 4


def test_the_apology_carries_no_card_of_a_step_that_was_not_saved(
    skill, envelope, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(skill.handle, envelope("goto_number_5", slots={"number": "3"}))

    def save_fails(self, request_envelope, attributes):
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(SqliteAdapter, "save_attributes", save_fails)
    response = answer(skill.handle, envelope("intent", intent="AMAZON.NextIntent"))
    assert spoken(response).startswith("Sorry, something went wrong")
    assert "card" not in response["response"], (
        f"the apology shows the card {response['response'].get('card', {}).get('title')!r}"
    )


def test_a_store_on_an_unusable_path_still_answers(tmp_path: Path, envelope) -> None:
    folder = tmp_path / "progress.db"
    folder.mkdir()  # a directory where the database file should be
    skill = build_skill(Settings(store=f"sqlite:///{folder}"))
    response = answer(skill.handle, envelope("launch"))
    assert spoken(response), "the listener must hear something"
    assert_listening(response)
    silent = answer(skill.handle, envelope("session_ended"))
    assert not spoken(silent)


def test_a_request_naming_no_listener_is_answered(handle: Handle, envelope) -> None:
    event = envelope("launch", context=False)
    del event["session"]["user"]
    response = answer(handle, event)
    assert spoken(response)
    assert_listening(response)


def test_a_request_type_newer_than_the_sdk_gets_an_empty_answer(handle: Handle, envelope) -> None:
    """Alexa adds request types before ask-sdk-model knows them; none may crash the Lambda."""
    event = envelope("playback_controller_next", type="Alexa.NewFeature.SomethingHappened")
    response = handle(event)
    assert_alexa_response(response, "Alexa.NewFeature.SomethingHappened")
    assert not spoken(response), "speech may not be allowed after a request we do not know"


# --- logs ---------------------------------------------------------------------------------------


def test_one_log_line_per_request_with_the_step_change_and_no_ids(
    skill, envelope, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="skill"):
        answer(skill.handle, envelope("intent_with_person"))
    lines = [r.getMessage() for r in caplog.records if r.name == "skill.request"]
    assert len(lines) == 1, f"expected one request line, got {lines}"
    assert "type=IntentRequest" in lines[0] and "intent=AMAZON.NextIntent" in lines[0]
    assert "step=" in lines[0] and "->1" in lines[0], lines[0]
    person = json.dumps(envelope("intent_with_person")["context"]["System"]["person"]["personId"])
    assert ACCOUNT not in caplog.text and person.strip('"') not in caplog.text
