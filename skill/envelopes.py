"""Alexa request envelopes in their real shape, for the terminal simulator and the benchmarks.

Owns: building LaunchRequest, IntentRequest (with slots and entity resolutions) and
SessionEndedRequest JSON exactly as Alexa sends them (version, session, context.System, request).
Standard library only; the result is a plain dict, to be handled like any other event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

APPLICATION_ID = "amzn1.ask.skill.00000000-0000-4000-8000-7275737467d1"
API_ENDPOINT = "https://api.amazonalexa.com"


def _id(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4()}"


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Slot:
    """A slot as Alexa fills it. `custom` names a custom slot type ("STEP_TOPIC"): with
    `resolved_id`, ER_SUCCESS_MATCH; without, ER_SUCCESS_NO_MATCH (words not in the model).
    Without `custom`: a built-in type's plain value."""

    name: str
    value: str | None = None
    resolved_id: str | None = None
    resolved_name: str | None = None
    custom: str | None = None  # the custom slot type's name, e.g. "STEP_TOPIC"

    def to_json(self) -> dict[str, Any]:
        slot: dict[str, Any] = {"name": self.name, "confirmationStatus": "NONE"}
        if self.value is None:
            return slot
        slot["value"] = self.value
        slot["source"] = "USER"
        if self.custom:
            authority = f"amzn1.er-authority.echo-sdk.{APPLICATION_ID}.{self.custom}"
            if self.resolved_id:
                resolution = {
                    "authority": authority,
                    "status": {"code": "ER_SUCCESS_MATCH"},
                    "values": [{"value": {"name": self.resolved_name, "id": self.resolved_id}}],
                }
            else:
                resolution = {"authority": authority, "status": {"code": "ER_SUCCESS_NO_MATCH"}}
            slot["resolutions"] = {"resolutionsPerAuthority": [resolution]}
        return slot


@dataclass
class Listener:
    """Who is talking, and on what device: the ids Alexa puts in every envelope."""

    user_id: str = field(default_factory=lambda: _id("amzn1.ask.account"))
    person_id: str | None = None
    device_id: str = field(default_factory=lambda: _id("amzn1.ask.device"))
    locale: str = "en-US"
    application_id: str = APPLICATION_ID

    def envelope(
        self,
        request: dict[str, Any],
        session_id: str | None,
        new: bool,
        attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        system: dict[str, Any] = {
            "application": {"applicationId": self.application_id},
            "user": {"userId": self.user_id},
            "device": {"deviceId": self.device_id, "supportedInterfaces": {}},
            "apiEndpoint": API_ENDPOINT,
            "apiAccessToken": "simulated-token",
        }
        if self.person_id:
            system["person"] = {"personId": self.person_id}
        envelope: dict[str, Any] = {"version": "1.0", "context": {"System": system}}
        if session_id is not None:
            envelope["session"] = {
                "new": new,
                "sessionId": session_id,
                "application": {"applicationId": self.application_id},
                "attributes": attributes or {},
                "user": {"userId": self.user_id},
            }
        request = {"requestId": _id("amzn1.echo-api.request"), "timestamp": timestamp(), **request}
        request.setdefault("locale", self.locale)
        envelope["request"] = request
        return envelope


def launch_request() -> dict[str, Any]:
    return {"type": "LaunchRequest"}


def intent_request(name: str, slots: list[Slot] | tuple[Slot, ...] = ()) -> dict[str, Any]:
    intent: dict[str, Any] = {"name": name, "confirmationStatus": "NONE"}
    if slots:
        intent["slots"] = {slot.name: slot.to_json() for slot in slots}
    return {"type": "IntentRequest", "dialogState": "COMPLETED", "intent": intent}


def session_ended_request(reason: str = "USER_INITIATED") -> dict[str, Any]:
    return {"type": "SessionEndedRequest", "reason": reason}


def new_session_id() -> str:
    return _id("amzn1.echo-api.session")
