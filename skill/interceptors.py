"""Load a listener's Progress before a handler runs, save it after, and log one line a request.

The shape is Flask's session interface: load, let the request change it, save only if modified
(ask-sdk's `save_persistent_attributes` would write whenever the attributes were read). On an
error path ask-sdk skips response interceptors, so a failed request saves nothing: the listener's
place stays where it was.
"""

from __future__ import annotations

import logging
import time

from ask_sdk_core.dispatch_components import AbstractRequestInterceptor, AbstractResponseInterceptor
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_model import Response

from skill.progress import Progress, from_record

log = logging.getLogger("skill.request")

_STATE = "trust_guide"  # key of our per-request state in request attributes


class RequestState:
    """What one request knows about its listener: plain values, kept in request attributes."""

    __slots__ = ("started", "progress", "loaded_record", "outcome")

    def __init__(self, started: float) -> None:
        self.started = started
        self.progress: Progress | None = None
        self.loaded_record: dict | None = None
        self.outcome = ""


def request_state(handler_input: HandlerInput) -> RequestState:
    attributes = handler_input.attributes_manager.request_attributes
    state = attributes.get(_STATE)
    if state is None:  # a handler ran without the interceptor (a unit test, say)
        state = attributes[_STATE] = RequestState(started=time.perf_counter())
    return state


def load_progress(handler_input: HandlerInput, total_steps: int) -> Progress:
    """The listener's progress, read from the store on first use in this request."""
    state = request_state(handler_input)
    if state.progress is None:
        record = handler_input.attributes_manager.persistent_attributes
        state.loaded_record = dict(record)
        loaded = from_record(record, total_steps)
        state.progress, state.outcome = loaded.progress, loaded.outcome
    return state.progress


def keep_progress(handler_input: HandlerInput, progress: Progress) -> None:
    request_state(handler_input).progress = progress


class RequestStartInterceptor(AbstractRequestInterceptor):
    """Start the request's clock and its state; nothing is read from the store yet."""

    def process(self, handler_input: HandlerInput) -> None:
        handler_input.attributes_manager.request_attributes[_STATE] = RequestState(
            started=time.perf_counter()
        )


class ProgressSaveInterceptor(AbstractResponseInterceptor):
    """Save progress when its record differs from what was loaded; then log the request."""

    def process(self, handler_input: HandlerInput, response: Response) -> None:
        state = request_state(handler_input)
        saved = False
        if state.progress is not None:
            record = state.progress.to_record()
            if record != state.loaded_record:
                manager = handler_input.attributes_manager
                manager.persistent_attributes = record
                manager.save_persistent_attributes()
                saved = True
        log_request(handler_input, state, saved)


def log_request(handler_input: HandlerInput, state: RequestState, saved: bool) -> None:
    """One structured line: type, intent, step before -> after, saved, latency. No user ids."""
    if not log.isEnabledFor(logging.INFO):
        return
    request = handler_input.request_envelope.request
    intent = getattr(getattr(request, "intent", None), "name", None) or "-"
    before = (state.loaded_record or {}).get("step", "-")
    after = state.progress.step if state.progress is not None else "-"
    log.info(
        "request type=%s intent=%s step=%s->%s load=%s saved=%s ms=%.2f id=%s",
        request.object_type,
        intent,
        before,
        after,
        state.outcome or "-",
        "yes" if saved else "no",
        (time.perf_counter() - state.started) * 1000,
        request.request_id,
    )
