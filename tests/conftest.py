"""Shared fixtures: a clean environment, settings on a fresh SQLite file, the built skill, real
request envelopes (loaded from tests/envelopes/ and varied), and a conversation that carries the
session and the listener between turns, as Jovo's TestSuite does. Every response a conversation
sees is checked against Alexa's rules (tests/alexa_rules.py).
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alexa_rules import assert_alexa_response, ends_session, reprompted, spoken

from skill import content as content_module
from skill.builder import TrustGuide, build_skill
from skill.config import Settings

ENVELOPES = Path(__file__).parent / "envelopes"
ACCOUNT = "amzn1.ask.account.AEXAMPLEUSERID7QFXKZ2M4BLNVHJ6ZR5DUWOCTA3PYSGIE"
EXAMPLE_ERROR = {"type": "INVALID_RESPONSE", "message": "The skill response was not valid."}
AUTHORITY = "amzn1.er-authority.echo-sdk.amzn1.ask.skill.8f2c6a0e-5b1d-4c57-9d1e-7a3b2f0c9e41"
# slot name -> its custom type (STEP_TOPIC, PAUSE_KIND), as the interaction model declares it
CUSTOM_SLOT_TYPES = {
    slot["name"]: slot["type"]
    for intent in json.loads(
        (Path(__file__).parents[1] / "interaction_model" / "en-US.json").read_text("utf-8")
    )["interactionModel"]["languageModel"]["intents"]
    for slot in intent.get("slots", [])
    if not slot["type"].startswith("AMAZON.")
}


# --- environment ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _reset_environ(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No TRUST_GUIDE_* setting leaks into or out of a test (as Flask's conftest does), and a
    default store never lands in the real ~/.local/state."""
    for key in [k for k in os.environ if k.startswith("TRUST_GUIDE_")]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    yield
    for key in [k for k in os.environ if k.startswith("TRUST_GUIDE_")]:
        del os.environ[key]  # set straight into os.environ by the test; monkeypatch restores ours


# --- the skill ------------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "progress.db"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(store=f"sqlite:///{db_path}")


@pytest.fixture(name="skill")
def skill_fixture(settings: Settings) -> TrustGuide:
    return build_skill(settings)


@pytest.fixture(name="content")
def content_fixture() -> content_module.Content:
    return content_module.load()


# --- request envelopes ----------------------------------------------------------------------


def load_envelope(name: str) -> dict[str, Any]:
    return json.loads((ENVELOPES / f"{name}.json").read_text(encoding="utf-8"))


def envelope_names() -> list[str]:
    return sorted(p.stem for p in ENVELOPES.glob("*.json"))


def make_slot(name: str, value: Any) -> dict[str, Any]:
    """A slot as Alexa fills it. `None`: the slot with no value; text: a built-in type's value;
    `(words, id)`: a custom type with entity resolution (ER_SUCCESS_MATCH with that id, or
    ER_SUCCESS_NO_MATCH when the id is None); a dict is taken as it is."""
    if isinstance(value, dict):
        return {"name": name, **value}
    slot: dict[str, Any] = {"name": name, "confirmationStatus": "NONE"}
    if value is None:
        return slot
    if isinstance(value, tuple):
        words, resolved = value
        if resolved:
            status = {
                "status": {"code": "ER_SUCCESS_MATCH"},
                "values": [{"value": {"name": words, "id": resolved}}],
            }
        else:
            status = {"status": {"code": "ER_SUCCESS_NO_MATCH"}}
        authority = f"{AUTHORITY}.{CUSTOM_SLOT_TYPES[name]}"
        resolutions = {"resolutionsPerAuthority": [{"authority": authority, **status}]}
        return {
            **slot,
            "value": words,
            "source": "USER",
            "resolutions": resolutions,
            "slotValue": {"type": "Simple", "value": words, "resolutions": resolutions},
        }
    value = str(value)
    return {
        **slot,
        "value": value,
        "source": "USER",
        "slotValue": {"type": "Simple", "value": value},
    }


def vary_envelope(
    base: dict[str, Any],
    *,
    intent: str | None = None,
    slots: dict[str, Any] | None = None,
    user_id: str | None = None,
    person_id: str | None = None,
    new: bool | None = None,
    context: bool = True,
    session_id: str | None = None,
    attributes: dict[str, Any] | None = None,
    locale: str | None = None,
    **request_fields: Any,
) -> dict[str, Any]:
    """A copy of `base` with a fresh request id and timestamp, and the given changes; other
    keyword arguments set fields of the request (None removes one)."""
    event = copy.deepcopy(base)
    request = event["request"]
    request["requestId"] = f"amzn1.echo-api.request.{uuid.uuid4()}"
    request["timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if intent is not None:
        request["intent"] = {"name": intent, "confirmationStatus": "NONE"}
    if slots is not None:
        request.setdefault("intent", {"name": "GoToStepIntent", "confirmationStatus": "NONE"})
        request["intent"]["slots"] = {name: make_slot(name, v) for name, v in slots.items()}
    if locale is not None:
        request["locale"] = locale
    for key, value in request_fields.items():  # None removes a field
        if value is None:
            request.pop(key, None)
        else:
            request[key] = value
    system = event.get("context", {}).get("System")
    session = event.get("session")
    if user_id is not None:
        if system is not None:
            system["user"]["userId"] = user_id
        if session is not None:
            session["user"]["userId"] = user_id
    if person_id is not None:
        if system is None:
            raise ValueError("a person id needs context.System")
        system["person"] = {"personId": person_id, "accessToken": "Atza|example-person-token"}
    if new is not None or session_id is not None or attributes is not None:
        if session is None:
            raise ValueError(f"{request['type']} envelopes have no session to vary")
        if new is not None:
            session["new"] = new
        if session_id is not None:
            session["sessionId"] = session_id
        if attributes is not None:
            session["attributes"] = attributes
    if not context:
        event.pop("context", None)
    return event


@pytest.fixture
def envelope() -> Callable[..., dict[str, Any]]:
    """envelope(name, **changes): tests/envelopes/<name>.json, varied (see `vary_envelope`)."""

    def make(name: str = "intent", **changes: Any) -> dict[str, Any]:
        return vary_envelope(load_envelope(name), **changes)

    return make


# --- conversations --------------------------------------------------------------------------


class Conversation:
    """One listener talking to the skill across turns, as a device would.

    Carries the session id, the session attributes returned by each response, and the listener
    (user id, person id). A response that ends the session closes it; the next utterance opens a
    new session (a one-shot "Alexa, ask trust guide to ..."). Every turn is checked against
    Alexa's rules and returns the response dict.
    """

    def __init__(
        self,
        skill: TrustGuide,
        *,
        user_id: str = ACCOUNT,
        person_id: str | None = None,
        locale: str = "en-US",
    ) -> None:
        self.skill = skill
        self.user_id = user_id
        self.person_id = person_id
        self.locale = locale
        self.session_id: str | None = None
        self.attributes: dict[str, Any] = {}
        self.new = True
        self.responses: list[dict[str, Any]] = []

    # the device

    @property
    def in_session(self) -> bool:
        return self.session_id is not None

    @property
    def last(self) -> dict[str, Any]:
        return self.responses[-1]

    def new_session(self, skill: TrustGuide | None = None) -> None:
        """Close the session without telling the skill; optionally move to another skill object
        (a new Lambda container on the same store)."""
        self.session_id = None
        self.attributes = {}
        if skill is not None:
            self.skill = skill

    def send(self, name: str, **changes: Any) -> dict[str, Any]:
        if self.session_id is None:
            self.session_id = f"amzn1.echo-api.session.{uuid.uuid4()}"
            self.attributes = {}
            self.new = True
        event = vary_envelope(
            load_envelope(name),
            user_id=self.user_id,
            person_id=self.person_id,
            new=self.new,
            session_id=self.session_id,
            attributes=dict(self.attributes),
            locale=self.locale,
            **changes,
        )
        request_type = event["request"]["type"]
        response = self.skill.handle(event)
        assert_alexa_response(response, request_type)
        self.responses.append(response)
        self.new = False
        self.attributes = dict(response.get("sessionAttributes") or {})
        if request_type == "SessionEndedRequest" or ends_session(response):
            self.session_id = None
        return response

    # what the listener says

    def launch(self) -> dict[str, Any]:
        """ "Alexa, open trust guide": always a new session."""
        self.new_session()
        return self.send("launch")

    def intent(self, name: str, **slots: Any) -> dict[str, Any]:
        return self.send("intent", intent=name, slots=slots or None)

    def end(self, reason: str = "USER_INITIATED") -> dict[str, Any]:
        """Alexa closes the session (the listener said "exit", or went quiet)."""
        if self.session_id is None:
            raise AssertionError("no open session to end")
        # session_ended.json carries an error; only reason ERROR keeps it
        return self.send(
            "session_ended", reason=reason, error=EXAMPLE_ERROR if reason == "ERROR" else None
        )

    def yes(self) -> dict[str, Any]:
        return self.intent("AMAZON.YesIntent")

    def no(self) -> dict[str, Any]:
        return self.intent("AMAZON.NoIntent")

    def next(self) -> dict[str, Any]:
        return self.intent("AMAZON.NextIntent")

    def previous(self) -> dict[str, Any]:
        return self.intent("AMAZON.PreviousIntent")

    def repeat(self) -> dict[str, Any]:
        return self.intent("AMAZON.RepeatIntent")

    def start_over(self) -> dict[str, Any]:
        return self.intent("AMAZON.StartOverIntent")

    def help(self) -> dict[str, Any]:
        return self.intent("AMAZON.HelpIntent")

    def stop(self) -> dict[str, Any]:
        return self.intent("AMAZON.StopIntent")

    def fallback(self) -> dict[str, Any]:
        return self.intent("AMAZON.FallbackIntent")

    def where_am_i(self) -> dict[str, Any]:
        return self.intent("WhereAmIIntent")

    def list_steps(self) -> dict[str, Any]:
        return self.intent("ListStepsIntent")

    def go_to(
        self, number: str | None = None, topic: str | None = None, topic_id: str | None = None
    ) -> dict[str, Any]:
        """ "Go to step five" (number="5"), or "the one about boundaries" (topic words, with the
        id entity resolution matched, or None for ER_SUCCESS_NO_MATCH)."""
        return self.intent(
            "GoToStepIntent",
            number=number,
            topic=(topic, topic_id) if topic is not None else None,
        )

    # what the listener heard

    @property
    def said(self) -> str:
        return spoken(self.last)

    @property
    def reprompt(self) -> str:
        return reprompted(self.last)


@pytest.fixture
def make_conversation(skill: TrustGuide) -> Callable[..., Conversation]:
    """make_conversation(user_id=..., person_id=..., skill=...): another listener on one store."""

    def make(skill_: TrustGuide | None = None, **listener: Any) -> Conversation:
        return Conversation(skill_ or skill, **listener)

    return make


@pytest.fixture
def conversation(make_conversation: Callable[..., Conversation]) -> Conversation:
    return make_conversation()
