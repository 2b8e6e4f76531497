"""A speaker in the terminal: typed utterances -> Alexa request envelopes -> the same skill.

Owns: the session a speaker would carry. What a person types is matched against our own
interaction model (skill/utterances.py) and turned into a real envelope (a new session on open,
session attributes carried between turns, a SessionEndedRequest on "exit", on silence after the
reprompt, or at the end), and the answer is read back as plain text. An utterance that matches
nothing becomes AMAZON.FallbackIntent, as on a device.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skill import envelopes
from skill.builder import TrustGuide
from skill.content import normalise
from skill.speech import to_text
from skill.utterances import MODEL_DIR, Match, load_matcher

_AUDIO = re.compile(r'<audio src="([^"]+)"\s*/>')


# --- the session driver -------------------------------------------------------------------------


@dataclass
class Turn:
    """What happened for one typed line."""

    heard: str
    request_type: str | None = None  # None: nothing was sent to the skill
    intent: str | None = None
    speech: str = ""
    reprompt: str = ""
    card: tuple[str, str] | None = None
    session_open: bool = False
    note: str = ""  # what the simulator itself says (not the skill)
    audio: tuple[str, ...] = ()  # the <audio src> URLs the speech plays, in order
    parts: tuple[tuple[str, str], ...] = ()  # ("say", text) and ("audio", src), as played
    response: dict[str, Any] = field(default_factory=dict)


class Simulator:
    """One listener talking to the skill, as a speaker would carry their session."""

    def __init__(
        self, skill: TrustGuide, listener: envelopes.Listener, model_dir: Path = MODEL_DIR
    ) -> None:
        self.skill = skill
        self.listener = listener
        self.matcher, phrasings = load_matcher(listener.locale, model_dir)
        wake = normalise(phrasings["wake_word"])
        self._wake = re.compile(rf"^{re.escape(wake)}\s*")
        invocation = self.matcher.invocation
        self._launch = {normalise(p.format(invocation=invocation)) for p in phrasings["launch"]}
        self._one_shot = [self._template(p, invocation) for p in phrasings["one_shot"]]
        self._exit = {normalise(p) for p in phrasings["exit"]}
        self.session_id: str | None = None
        self.attributes: dict[str, Any] = {}
        self.last_reprompt = ""
        self.silences = 0

    @staticmethod
    def _template(pattern: str, invocation: str) -> re.Pattern[str]:
        head, tail = pattern.format(invocation=invocation, utterance="\0").split("\0")
        return re.compile(
            rf"^{re.escape(normalise(head))}\s+(?P<rest>.+?){re.escape(normalise(tail))}$"
        )

    @property
    def session_open(self) -> bool:
        return self.session_id is not None

    def say(self, text: str) -> Turn:
        said = self._wake.sub("", normalise(text))
        if not said:
            return self._silence(text)
        self.silences = 0
        if said in self._launch:
            if self.session_open:
                self._send(envelopes.session_ended_request("USER_INITIATED"), text)
            return self._send(envelopes.launch_request(), text, new=True)
        if said in self._exit:
            if not self.session_open:
                return Turn(text, note="Trust Guide isn't open.")
            return self._send(envelopes.session_ended_request("USER_INITIATED"), text)
        if not self.session_open:
            for template in self._one_shot:
                found = template.match(said)
                if found:
                    return self._intent(found.group("rest"), text, new=True)
            return Turn(text, note='Trust Guide isn\'t open. Say "open trust guide".')
        return self._intent(said, text)

    def end(self, reason: str = "USER_INITIATED") -> Turn | None:
        """Close an open session as Alexa would (the listener left, or the script ended)."""
        if not self.session_open:
            return None
        return self._send(envelopes.session_ended_request(reason), "")

    def _silence(self, text: str) -> Turn:
        if not self.session_open:
            return Turn(text)
        self.silences += 1
        if self.silences == 1 and self.last_reprompt:
            reprompt = self.last_reprompt
            return Turn(text, speech=reprompt, parts=(("say", reprompt),), session_open=True)
        return self._send(envelopes.session_ended_request("EXCEEDED_MAX_REPROMPTS"), text)

    def _intent(self, said: str, text: str, new: bool = False) -> Turn:
        match = self.matcher.match(said) or Match("AMAZON.FallbackIntent")
        return self._send(envelopes.intent_request(match.intent, match.slots), text, new=new)

    def _send(self, request: dict[str, Any], text: str, new: bool = False) -> Turn:
        if new:
            self.session_id, self.attributes = envelopes.new_session_id(), {}
        event = self.listener.envelope(request, self.session_id, new, self.attributes)
        response = self.skill.handle(event)
        return self._read(text, request, response)

    def _read(self, text: str, request: dict[str, Any], response: dict[str, Any]) -> Turn:
        body = response.get("response", {})
        ends = request["type"] == "SessionEndedRequest" or body.get("shouldEndSession") is True
        if ends:
            self.session_id, self.attributes, self.last_reprompt = None, {}, ""
        else:
            self.attributes = response.get("sessionAttributes") or {}
        speech = to_text(body.get("outputSpeech", {}).get("ssml", ""))
        reprompt = to_text(body.get("reprompt", {}).get("outputSpeech", {}).get("ssml", ""))
        if reprompt:
            self.last_reprompt = reprompt
        card = body.get("card")
        ssml = body.get("outputSpeech", {}).get("ssml", "")
        pieces = _AUDIO.split(ssml)  # text, src, text, src, ..., text
        parts = tuple(
            ("audio", html.unescape(piece)) if i % 2 else ("say", to_text(piece))
            for i, piece in enumerate(pieces)
            if i % 2 or to_text(piece)
        )
        return Turn(
            parts=parts,
            audio=tuple(src for kind, src in parts if kind == "audio"),
            heard=text,
            request_type=request["type"],
            intent=request.get("intent", {}).get("name"),
            speech=speech,
            reprompt=reprompt,
            card=(card.get("title", ""), card.get("content", "")) if card else None,
            session_open=self.session_open,
            response=response,
        )


def script_lines(lines: Iterable[str]) -> list[str]:
    """Utterances from a script: one a line; blank lines are silence, '#' starts a comment."""
    return [line.rstrip("\n") for line in lines if not line.lstrip().startswith("#")]
