"""Load a listener's Progress before a handler runs, save it after, and log one line a request.

The shape is Flask's session interface: load, let the request change it, save only if modified.
We call the persistence adapter ourselves rather than through ask-sdk's attributes manager, which
caches one read and writes whenever attributes were read; our save is conditional on the revision
that was read, and on a conflict (another device of the same listener saved meanwhile) it re-reads,
merges and tries again.

Each session keeps its own copy of the listener's place in its session attributes (plain values),
and goes on from it. When the store fails (unreachable, slow, throttled) the listener still gets
their answer from that copy, hears once that their place may not have been saved, and the next
request of the session saves it. On an error path ask-sdk skips response
interceptors, so a failed request saves nothing and the listener's place stays where it was.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ask_sdk_core.attributes_manager import AbstractPersistenceAdapter
from ask_sdk_core.dispatch_components import AbstractRequestInterceptor, AbstractResponseInterceptor
from ask_sdk_core.exceptions import PersistenceException
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_model import Response

from skill.persistence import REVISION, StaleWriteError
from skill.progress import Progress, Visit, from_record

log = logging.getLogger("skill.request")

_STATE = "trust_guide"  # key of our per-request state in request attributes
PLACE = "place"  # session attribute: the listener's record as this session last knew it
UNSAVED = "unsaved"  # session attribute: the store has not taken PLACE yet
VISIT = "visit"  # session attribute: this session's part of the listener's state (see Visit)
SAVE_ATTEMPTS = 3  # conflicts are rare (two devices of one listener at once): re-read, merge, retry


class RequestState:
    """What one request knows about its listener: plain values, kept in request attributes."""

    __slots__ = ("started", "progress", "loaded", "rev", "outcome", "store_error")

    def __init__(self, started: float) -> None:
        self.started = started
        self.progress: Progress | None = None
        self.loaded: Progress | None = None
        self.rev: int | None = 0  # None: the store could not be read, so we cannot write safely
        self.outcome = ""
        self.store_error = ""  # "load" or "save" when the store failed in this request


def request_state(handler_input: HandlerInput) -> RequestState:
    attributes = handler_input.attributes_manager.request_attributes
    state = attributes.get(_STATE)
    if state is None:  # a handler ran without the interceptor (a unit test, say)
        state = attributes[_STATE] = RequestState(started=time.perf_counter())
    return state


def _split(record: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A stored record and its revision, apart. An unreadable revision is a store fault: the
    conversation goes on from the session's copy, and nothing is written over that item."""
    record = dict(record)
    rev = record.pop(REVISION, 0)
    if isinstance(rev, bool) or not isinstance(rev, int | float) or rev != int(rev) or rev < 0:
        raise PersistenceException(
            f"stored progress has an unreadable revision ({type(rev).__name__})"
        )
    return record, int(rev)


class ProgressStore:
    """One listener's progress through a persistence adapter, with the revision contract."""

    def __init__(self, adapter: AbstractPersistenceAdapter, total_steps: int) -> None:
        self.adapter = adapter
        self.total_steps = total_steps

    def load(self, handler_input: HandlerInput) -> Progress:
        """The listener's progress, read on first use in this request (later uses are free).

        Within a session, the conversation goes on from the session's own copy of the place (so
        "yes" answers the question this device asked), with every step heard elsewhere added from
        the store. If the store cannot be read, that copy carries the conversation alone.
        """
        state = request_state(handler_input)
        if state.progress is not None:
            return state.progress
        envelope = handler_input.request_envelope
        try:
            record, state.rev = _split(self.adapter.get_attributes(request_envelope=envelope))
            loaded = from_record(record, self.total_steps)
            state.loaded, state.outcome = loaded.progress, loaded.outcome
        except PersistenceException as exc:
            log.warning("progress not loaded: %s", exc)
            state.rev, state.outcome, state.store_error = None, "unavailable", "load"
        session = handler_input.attributes_manager.session_attributes
        place = session.get(PLACE)
        own = from_record(place, self.total_steps).progress if place else None
        if own is None:
            progress = state.loaded or Progress()
        elif state.loaded is None:
            progress = own
        else:
            progress = own._replace(heard=own.heard | state.loaded.heard)
        state.progress = progress._replace(visit=Visit.from_session(session.get(VISIT)))
        return state.progress

    def save(self, handler_input: HandlerInput, state: RequestState) -> bool:
        """Save if the listener's record changed; a failed save is tried again next turn.

        What is stored is this session's progress merged with the stored record (every step heard
        kept, the most recently heard place): another device's newer place is not overwritten.
        """
        session = handler_input.attributes_manager.session_attributes
        progress = state.progress
        if progress is None:
            return False
        if progress.visit != Visit() or VISIT in session:
            session[VISIT] = progress.visit.to_session()
        session[PLACE] = progress.to_record()
        if state.loaded is not None:
            record = progress.merged_with(state.loaded).stored_part()
            if record == state.loaded.stored_part() and not session.get(UNSAVED):
                return False
        saved = state.rev is not None and self._write(handler_input, state, progress)
        if saved:
            session.pop(UNSAVED, None)
        else:
            state.store_error = state.store_error or "save"
            session[UNSAVED] = True
        return saved

    def _write(self, handler_input: HandlerInput, state: RequestState, progress: Progress) -> bool:
        """The conditional write; on a conflict, re-read, merge and try again."""
        envelope = handler_input.request_envelope
        stored, rev = state.loaded or Progress(), state.rev or 0
        for _ in range(SAVE_ATTEMPTS):
            record = progress.merged_with(stored).to_record()
            try:
                self.adapter.save_attributes(
                    request_envelope=envelope, attributes={**record, REVISION: rev + 1}
                )
                return True
            except StaleWriteError:
                try:
                    latest, rev = _split(self.adapter.get_attributes(request_envelope=envelope))
                except PersistenceException as exc:
                    log.warning("progress not re-read after a conflict: %s", exc)
                    return False
                stored = from_record(latest, self.total_steps).progress
            except PersistenceException as exc:
                log.warning("progress not saved: %s", exc)
                return False
        log.warning("progress not saved: %d conflicting writes in a row", SAVE_ATTEMPTS)
        return False


class RequestStartInterceptor(AbstractRequestInterceptor):
    """Start the request's clock and its state; nothing is read from the store yet."""

    def process(self, handler_input: HandlerInput) -> None:
        handler_input.attributes_manager.request_attributes[_STATE] = RequestState(
            started=time.perf_counter()
        )


class ProgressSaveInterceptor(AbstractResponseInterceptor):
    """Save progress when it changed; tell the listener if the store let us down; log."""

    def __init__(self, store: ProgressStore, on_store_error) -> None:
        self.store = store
        self.on_store_error = on_store_error  # (handler_input, response) -> None: adds a notice

    def process(self, handler_input: HandlerInput, response: Response) -> None:
        state = request_state(handler_input)
        saved = self.store.save(handler_input, state)
        if state.store_error:
            self.on_store_error(handler_input, response)
        log_request(handler_input, state, saved)


def log_request(handler_input: HandlerInput, state: RequestState, saved: bool) -> None:
    """One structured line: type, intent, step before -> after, saved, latency. No user ids."""
    if not log.isEnabledFor(logging.INFO):
        return
    request = handler_input.request_envelope.request
    intent = getattr(getattr(request, "intent", None), "name", None) or "-"
    before = state.loaded.step if state.loaded is not None else "-"
    after = state.progress.step if state.progress is not None else "-"
    log.info(
        "request type=%s intent=%s step=%s->%s load=%s saved=%s store_error=%s ms=%.2f id=%s",
        request.object_type,
        intent,
        before,
        after,
        state.outcome or "-",
        "yes" if saved else "no",
        state.store_error or "-",
        (time.perf_counter() - state.started) * 1000,
        request.request_id,
    )
