"""Build the one skill object that the Lambda, the web endpoint and the terminal all use.

Owns: the ordered registration list (order is behaviour: the first handler whose `can_handle` is
true wins), the choice of persistence adapter, and `TrustGuide.handle(event) -> response dict`,
the single way in for every entry point. Nothing here runs at import time.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ask_sdk_core.exceptions import SerializationException
from ask_sdk_core.skill import CustomSkill
from ask_sdk_core.skill_builder import CustomSkillBuilder
from ask_sdk_model import RequestEnvelope

from skill import content as content_module
from skill.config import Settings
from skill.handlers import (
    ApologyExceptionHandler,
    CanFulfillIntentRequestHandler,
    GuideRequestHandler,
    Runner,
    SessionEndedRequestHandler,
    SilentEventHandler,
    SpokenEventHandler,
    UnhandledRequestHandler,
    UnknownIntentHandler,
)
from skill.interceptors import ProgressSaveInterceptor, ProgressStore, RequestStartInterceptor
from skill.persistence import build_adapter
from skill.speech import AudioHost

log = logging.getLogger(__name__)


EMPTY_RESPONSE = {"version": "1.0", "response": {}}  # no speech: for requests we cannot read


class WrongSkill(Exception):
    """A request for a skill id other than TRUST_GUIDE_SKILL_ID."""


def _application_id(envelope: RequestEnvelope) -> str | None:
    for holder in (envelope.context and envelope.context.system, envelope.session):
        application = getattr(holder, "application", None)
        if application is not None and application.application_id:
            return application.application_id
    return None


class NewRequestType(Exception):
    """A well-formed envelope whose request type this ask-sdk-model release does not know."""


def _request_type(body: str | bytes) -> str | None:
    try:
        request = json.loads(body).get("request")
        request_type = request.get("type") if isinstance(request, dict) else None
    except (ValueError, AttributeError):
        return None
    return request_type if isinstance(request_type, str) and request_type else None


class TrustGuide:
    """The built skill: a request envelope (as a dict or JSON text) in, a response dict out."""

    def __init__(self, custom_skill: CustomSkill, settings: Settings) -> None:
        self.custom_skill = custom_skill
        self.settings = settings
        self.serializer = custom_skill.serializer

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return self.handle_json(json.dumps(event), context)

    def handle_json(self, body: str | bytes, context: Any = None) -> dict[str, Any]:
        try:
            envelope = self.read_envelope(body)
        except NewRequestType as exc:
            log.info("request type %s is newer than ask-sdk-model: answered empty", exc)
            return dict(EMPTY_RESPONSE)
        return self.invoke(envelope, context)

    def read_envelope(self, body: str | bytes) -> RequestEnvelope:
        """Parse a request envelope. Raises NewRequestType for an envelope whose request type
        ask-sdk-model does not know yet (Alexa adds types; the answer is then empty), and
        ask-sdk's SerializationException for anything that is not an envelope at all."""
        try:
            envelope = self.serializer.deserialize(payload=body, obj_type=RequestEnvelope)
        except SerializationException:
            request_type = _request_type(body)
            if request_type is not None:
                raise NewRequestType(request_type) from None
            raise
        if envelope is None or envelope.request is None or not envelope.request.object_type:
            raise SerializationException("not an Alexa request envelope: no request in it")
        return envelope

    def invoke(self, envelope: RequestEnvelope, context: Any = None) -> dict[str, Any]:
        """Answer one request. With TRUST_GUIDE_SKILL_ID set, a request for another skill raises
        WrongSkill (the Lambda trigger also filters by skill id; the web endpoint answers 400)."""
        if self.settings.skill_id and _application_id(envelope) != self.settings.skill_id:
            raise WrongSkill("the request is for another skill id")
        response = self.custom_skill.invoke(request_envelope=envelope, context=context)
        return self.serializer.serialize(response)


def audio_host(settings: Settings) -> AudioHost | None:
    """Hosted pause audio, when a base URL is set and the build's manifest can be read."""
    if not settings.audio_base_url:
        return None
    from skill.pauses import load_manifest

    manifest = load_manifest(settings.audio_manifest)
    return AudioHost(settings.audio_base_url, manifest) if manifest is not None else None


def build_skill(settings: Settings) -> TrustGuide:
    logging.getLogger("skill").setLevel(settings.log_level)
    content = content_module.load(settings.locale)  # validated now: bad data fails start-up
    adapter = build_adapter(settings.store)
    runner = Runner(settings.locale, ProgressStore(adapter, content.total), audio_host(settings))
    builder = CustomSkillBuilder(persistence_adapter=adapter)
    for handler in (
        GuideRequestHandler(runner),
        SessionEndedRequestHandler(runner),
        CanFulfillIntentRequestHandler(runner),
        SpokenEventHandler(runner),
        SilentEventHandler(),
        UnknownIntentHandler(runner),
        UnhandledRequestHandler(),  # last: accepts anything
    ):
        builder.add_request_handler(handler)
    builder.add_exception_handler(ApologyExceptionHandler(runner))
    builder.add_global_request_interceptor(RequestStartInterceptor())
    builder.add_global_response_interceptor(
        ProgressSaveInterceptor(runner.store, runner.notice_store_error)
    )
    return TrustGuide(builder.create(), settings)
