"""Whose progress is this? The partition key of a request, the same for every store.

A person Alexa recognised by voice (context.System.person.personId) keeps their own place, even on
a shared device; otherwise the Amazon account's user id (context.System.user.userId). Requests
without a context (an older shape Alexa still documents) fall back to session.user.userId.
"""

from __future__ import annotations

from ask_sdk_model import RequestEnvelope


class NoListenerError(ValueError):
    """The request names no user at all; there is nowhere to keep progress."""


def listener_key(request_envelope: RequestEnvelope) -> str:
    context = request_envelope.context
    system = context.system if context is not None else None
    if system is not None:
        if system.person is not None and system.person.person_id:
            return system.person.person_id
        if system.user is not None and system.user.user_id:
            return system.user.user_id
    session = request_envelope.session
    if session is not None and session.user is not None and session.user.user_id:
        return session.user.user_id
    raise NoListenerError("request has neither context.System nor session.user ids")
