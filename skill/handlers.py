"""Alexa glue: turn each Alexa request into a guide command, and a guide Reply into a Response.

Handlers only translate. `COMMANDS` maps an intent (and its slots) to a command; one generic
handler runs any command through the guide core and the speech module. The named handlers cover
what is not a command: requests where Alexa forbids speech, CanFulfillIntentRequest, and the error
handler, which still speaks and keeps the listener's place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from ask_sdk_core.dispatch_components import AbstractExceptionHandler, AbstractRequestHandler
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.response_helper import ResponseFactory
from ask_sdk_core.utils import get_request_type, is_request_type
from ask_sdk_model import Response
from ask_sdk_model.ui import SimpleCard

from skill import content as content_module
from skill import guide
from skill.guide import Command, Reply, Said
from skill.interceptors import ProgressStore, request_state
from skill.progress import Question
from skill.speech import AudioHost, Speech, render, with_notice

log = logging.getLogger(__name__)

# --- slots ------------------------------------------------------------------------------------


def slot_value(handler_input: HandlerInput, name: str) -> str | None:
    """The raw value of a slot, or None when the slot is absent or empty."""
    intent = getattr(handler_input.request_envelope.request, "intent", None)
    slot = (intent.slots or {}).get(name) if intent is not None else None
    value = slot.value if slot is not None else None
    return value.strip() or None if isinstance(value, str) else None


def resolved_id(handler_input: HandlerInput, name: str) -> str | None:
    """The id entity resolution matched for a custom slot (ER_SUCCESS_MATCH), else None."""
    intent = getattr(handler_input.request_envelope.request, "intent", None)
    slot = (intent.slots or {}).get(name) if intent is not None else None
    resolutions = getattr(getattr(slot, "resolutions", None), "resolutions_per_authority", None)
    for authority in resolutions or ():
        code = getattr(authority.status, "code", None)
        if code is not None and code.value == "ER_SUCCESS_MATCH":
            for item in authority.values or ():
                if item.value is not None and item.value.id:
                    return item.value.id
    return None


def _go_to(handler_input: HandlerInput) -> Command:
    return guide.GoTo(
        number=slot_value(handler_input, "number"),
        topic_id=resolved_id(handler_input, "topic"),
        topic=slot_value(handler_input, "topic"),
    )


def _pause(handler_input: HandlerInput) -> Command:
    return guide.Pause(
        kind_id=resolved_id(handler_input, "kind"),
        kind=slot_value(handler_input, "kind"),
        length=slot_value(handler_input, "length"),
    )


def _always(command: Command) -> Callable[[HandlerInput], Command]:
    return lambda handler_input: command


# intent name -> how to read it as a guide command; every intent here is in the interaction model
COMMANDS: dict[str, Callable[[HandlerInput], Command]] = {
    "AMAZON.NextIntent": _always(guide.Next()),
    "AMAZON.PreviousIntent": _always(guide.Previous()),
    "AMAZON.RepeatIntent": _always(guide.Repeat()),
    "AMAZON.StartOverIntent": _always(guide.StartOver()),
    "AMAZON.YesIntent": _always(guide.Yes()),
    "AMAZON.NoIntent": _always(guide.No()),
    "AMAZON.HelpIntent": _always(guide.Help()),
    "AMAZON.StopIntent": _always(guide.Stop()),
    "AMAZON.CancelIntent": _always(guide.Stop()),
    "AMAZON.NavigateHomeIntent": _always(guide.Stop()),
    "AMAZON.FallbackIntent": _always(guide.Fallback()),
    "GoToStepIntent": _go_to,
    "ListStepsIntent": _always(guide.ListSteps()),
    "WhereAmIIntent": _always(guide.WhereAmI()),
    "SelfCarePauseIntent": _pause,
}

# Requests after which Alexa plays no speech from us: the response carries none.
SILENT_REQUEST_PREFIXES = (
    "AudioPlayer.",
    "PlaybackController.",
    "System.ExceptionEncountered",
    "AlexaSkillEvent.",
    "AlexaHouseholdListEvent.",
    "Messaging.",
    "SessionEndedRequest",
)
# Requests that continue a conversation and may be answered with speech.
SPOKEN_EVENTS = (
    "Alexa.Presentation.APL.UserEvent",
    "Display.ElementSelected",
    "Connections.Response",
)


APL_TOKEN = "trust-guide-step"  # names the document on screen (APL UserEvents carry it back)
STORE_NOTICE = "store_notice"  # session attribute: which store notice the listener has heard

# --- running a command ------------------------------------------------------------------------


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Runner:
    """Runs guide commands for one skill: progress in, reply out, response built."""

    def __init__(
        self, default_locale: str, store: ProgressStore, audio: AudioHost | None = None
    ) -> None:
        self.default_locale = default_locale
        self.locales = frozenset(content_module.locales())
        self.store = store
        self.audio = audio  # None: pauses are spoken by Alexa's voice

    def content(self, handler_input: HandlerInput) -> content_module.Content:
        """The request's locale, or the default one when we have no content for it."""
        locale = getattr(handler_input.request_envelope.request, "locale", None)
        return content_module.load(locale if locale in self.locales else self.default_locale)

    def run(self, handler_input: HandlerInput, command: Command) -> Response:
        content = self.content(handler_input)
        progress = self.store.load(handler_input)
        progress, reply = guide.advance(progress, command, content, now())
        request_state(handler_input).progress = progress
        return respond(handler_input, render(reply, content, self.audio))

    def notice_store_error(self, handler_input: HandlerInput, response: Response) -> None:
        """Tell the listener their place may not have been saved (or could not be read)."""
        speech = response.output_speech
        if speech is None or not getattr(speech, "ssml", None):
            return  # nothing may be said here (SessionEndedRequest and the like): only logged
        key = "NotLoaded" if request_state(handler_input).store_error == "load" else "NotSaved"
        session = handler_input.attributes_manager.session_attributes
        if session.get(STORE_NOTICE) == key:
            return  # said once a session is enough; the log has every failure
        session[STORE_NOTICE] = key
        speech.ssml = with_notice(speech.ssml, self.content(handler_input), key)


def respond(handler_input: HandlerInput, speech: Speech) -> Response:
    builder = handler_input.response_builder
    if speech.ssml:
        builder.speak(speech.ssml)
    if speech.reprompt:
        builder.ask(speech.reprompt)
    if speech.card is not None:
        builder.set_card(SimpleCard(title=speech.card.title, content=speech.card.text))
    if speech.screen is not None and _has_screen(handler_input):
        builder.add_directive(_step_document(speech.screen))
    builder.set_should_end_session(speech.end_session)
    return builder.response


def _has_screen(handler_input: HandlerInput) -> bool:
    """The device renders APL (an Echo Show, a Fire TV): it says so in supportedInterfaces."""
    context = handler_input.request_envelope.context
    device = context.system.device if context is not None and context.system else None
    interfaces = device.supported_interfaces if device is not None else None
    return interfaces is not None and interfaces.alexa_presentation_apl is not None


def _step_document(screen: dict[str, str]):
    """The step on a screen: skill/data/apl/step.json, filled with this step's data."""
    from ask_sdk_model.interfaces.alexa.presentation.apl import RenderDocumentDirective

    return RenderDocumentDirective(
        token=APL_TOKEN, document=content_module.apl_document("step"), datasources={"guide": screen}
    )


def empty_response(handler_input: HandlerInput) -> Response:
    """No speech and no shouldEndSession: what Alexa expects after audio and system events."""
    return handler_input.response_builder.response


# --- handlers, in registration order (see builder.py) -----------------------------------------


class GuideRequestHandler(AbstractRequestHandler):
    """LaunchRequest and every intent in COMMANDS."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def can_handle(self, handler_input: HandlerInput) -> bool:
        if is_request_type("LaunchRequest")(handler_input):
            return True
        return is_request_type("IntentRequest")(handler_input) and (
            handler_input.request_envelope.request.intent.name in COMMANDS
        )

    def handle(self, handler_input: HandlerInput) -> Response:
        if is_request_type("LaunchRequest")(handler_input):
            return self.runner.run(handler_input, guide.Launch())
        name = handler_input.request_envelope.request.intent.name
        return self.runner.run(handler_input, COMMANDS[name](handler_input))


class UnknownIntentHandler(AbstractRequestHandler):
    """An intent we do not know (a model out of step with the code): answered as a fallback."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return is_request_type("IntentRequest")(handler_input)

    def handle(self, handler_input: HandlerInput) -> Response:
        log.warning("unknown intent %s", handler_input.request_envelope.request.intent.name)
        return self.runner.run(handler_input, guide.Fallback())


class SessionEndedRequestHandler(AbstractRequestHandler):
    """Alexa closed the session (the listener said "exit", went silent, or an error). No speech."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return is_request_type("SessionEndedRequest")(handler_input)

    def handle(self, handler_input: HandlerInput) -> Response:
        request = handler_input.request_envelope.request
        if request.error is not None:
            log.warning("session ended by an error: %s", request.error.object_type or request.error)
        self.runner.run(handler_input, guide.SessionEnd())
        return empty_response(handler_input)


class SpokenEventHandler(AbstractRequestHandler):
    """A touch on a screen, or the return from another flow: say where the listener is."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return get_request_type(handler_input) in SPOKEN_EVENTS

    def handle(self, handler_input: HandlerInput) -> Response:
        return self.runner.run(handler_input, guide.WhereAmI())


class SilentEventHandler(AbstractRequestHandler):
    """AudioPlayer, PlaybackController, system, skill and messaging events: Alexa forbids speech."""

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return get_request_type(handler_input).startswith(SILENT_REQUEST_PREFIXES)

    def handle(self, handler_input: HandlerInput) -> Response:
        return empty_response(handler_input)


class CanFulfillIntentRequestHandler(AbstractRequestHandler):
    """Tell Alexa, before launch, whether a name-free request ("read step five") is ours."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return is_request_type("CanFulfillIntentRequest")(handler_input)

    def handle(self, handler_input: HandlerInput) -> Response:
        # imported here: only this rare request needs these model classes (cold-start cost)
        from ask_sdk_model.canfulfill import (
            CanFulfillIntent,
            CanFulfillIntentValues,
            CanFulfillSlot,
            CanFulfillSlotValues,
            CanUnderstandSlotValues,
        )

        intent = handler_input.request_envelope.request.intent
        known = intent is not None and intent.name in COMMANDS
        command = COMMANDS[intent.name](handler_input) if known else None
        slots = {}
        if isinstance(command, guide.GoTo):
            known = guide.resolve_step(command, self.runner.content(handler_input)) is not None
            understood = CanUnderstandSlotValues.YES if known else CanUnderstandSlotValues.NO
            fulfilled = CanFulfillSlotValues.YES if known else CanFulfillSlotValues.NO
            slots = {
                name: CanFulfillSlot(can_understand=understood, can_fulfill=fulfilled)
                for name, slot in (intent.slots or {}).items()
                if slot.value
            }
        handler_input.response_builder.response.can_fulfill_intent = CanFulfillIntent(
            can_fulfill=CanFulfillIntentValues.YES if known else CanFulfillIntentValues.NO,
            slots=slots or None,
        )
        return handler_input.response_builder.response


class UnhandledRequestHandler(AbstractRequestHandler):
    """Any other request type: no speech, since we cannot know that speech is allowed."""

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return True

    def handle(self, handler_input: HandlerInput) -> Response:
        log.info("unhandled request type %s", get_request_type(handler_input))
        return empty_response(handler_input)


class ApologyExceptionHandler(AbstractExceptionHandler):
    """Any exception: log the request id and the exception's type, apologise, keep the place.

    Nothing is saved on this path (ask-sdk skips response interceptors), so the listener's
    progress stays as it was before the failed request.
    """

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def can_handle(self, handler_input: HandlerInput, exception: Exception) -> bool:
        return True

    def handle(self, handler_input: HandlerInput, exception: Exception) -> Response:
        request = handler_input.request_envelope.request
        log.error(
            "request failed type=%s id=%s error=%s",
            getattr(request, "object_type", "-"),
            getattr(request, "request_id", "-"),
            type(exception).__name__,
            exc_info=exception,
        )
        request_type = get_request_type(handler_input)
        if (
            request_type.startswith(SILENT_REQUEST_PREFIXES)
            or request_type == "CanFulfillIntentRequest"
        ):
            return empty_response(handler_input)
        try:
            content = self.runner.content(handler_input)
        except Exception:  # content is validated at start-up; this is the last line of defence
            content = content_module.load(self.runner.default_locale)
        reply = Reply((Said("Apology"),), Question.NONE)
        handler_input.response_builder = ResponseFactory()  # drop what the failed handler built
        return respond(handler_input, render(reply, content))
