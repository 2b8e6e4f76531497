"""A device of a listener for the integration tests: one skill object, one session at a time,
session attributes carried from each response to the next request, as an Echo does."""

from __future__ import annotations

import time
from typing import Any

from alexa_rules import assert_alexa_response, ends_session, reprompted, spoken

from skill.builder import TrustGuide
from skill.envelopes import Listener, Slot, intent_request, launch_request, new_session_id


class Device:
    """One Echo of a listener, talking to one skill object, one session at a time."""

    def __init__(self, skill: TrustGuide, listener: Listener) -> None:
        self.skill = skill
        self.listener = listener
        self.session_id: str | None = None
        self.attributes: dict[str, Any] = {}
        self.last: dict[str, Any] = {}
        self.took = 0.0  # seconds the last request took, end to end

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        new = self.session_id is None
        if new:
            self.session_id = new_session_id()
            self.attributes = {}
        event = self.listener.envelope(request, self.session_id, new, dict(self.attributes))
        started = time.perf_counter()
        response = self.skill.handle(event)
        self.took = time.perf_counter() - started
        assert_alexa_response(response, request["type"])
        self.last = response
        self.attributes = dict(response.get("sessionAttributes") or {})
        if ends_session(response):
            self.session_id = None
        return response

    def launch(self) -> str:
        """ "Alexa, open trust guide": always a new session."""
        self.session_id = None
        return spoken(self.send(launch_request()))

    def say(self, intent: str, *slots: Slot) -> str:
        return spoken(self.send(intent_request(intent, slots)))

    @property
    def open(self) -> bool:
        """The session stays open, with a reprompt to answer."""
        body = self.last["response"]
        return body.get("shouldEndSession") is False and bool(reprompted(self.last))
