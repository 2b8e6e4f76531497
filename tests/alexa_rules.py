"""Alexa's rules for a skill's response, checked on every response the tests see.

Numbers from Alexa's "Request and Response JSON Reference" and "SSML Reference": output speech at
most 8,000 characters, a `<break>` at most 10 seconds, `<audio>` over https only, a card at most
8,000 characters, the whole response at most 24 kilobytes; a reprompt whenever the session stays
open after speech; no speech, reprompt or card for requests after which Alexa plays none of it.
A helper, not a test module: it imports neither the SDK nor the skill, and judges from outside.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

MAX_SPEECH_CHARS = 8000
MAX_BREAK_SECONDS = 10.0
MAX_CARD_CHARS = 8000
MAX_RESPONSE_BYTES = 24 * 1024

# Request types whose response Alexa ignores or rejects if it carries speech, a reprompt or a card.
SILENT_REQUEST_PREFIXES = (
    "AudioPlayer.",
    "PlaybackController.",
    "System.ExceptionEncountered",
    "SessionEndedRequest",
    "AlexaSkillEvent.",
    "AlexaHouseholdListEvent.",
    "Messaging.",
    "CanFulfillIntentRequest",
)

_BREAK_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")
_BREAK_STRENGTHS = {"none", "x-weak", "weak", "medium", "strong", "x-strong"}


def speech_forbidden(request_type: str) -> bool:
    return request_type.startswith(SILENT_REQUEST_PREFIXES)


def parse_ssml(ssml: str, where: str = "outputSpeech") -> ET.Element:
    """Parse SSML as XML and return its root; fail with a message saying what is wrong."""
    text = ssml
    if "amazon:" in text and "xmlns:amazon" not in text:
        # Alexa's amazon:* tags come without a namespace declaration; declare one to parse them.
        text = text.replace("<speak", '<speak xmlns:amazon="urn:amazon"', 1)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise AssertionError(f"{where}: SSML is not well-formed XML ({exc}): {ssml!r}") from exc
    assert root.tag == "speak", f"{where}: SSML root is <{root.tag}>, not <speak>: {ssml!r}"
    return root


def check_ssml(ssml: str, where: str) -> None:
    assert isinstance(ssml, str) and ssml, f"{where}: SSML is empty or not text: {ssml!r}"
    assert len(ssml) <= MAX_SPEECH_CHARS, (
        f"{where}: {len(ssml)} characters, over Alexa's {MAX_SPEECH_CHARS}"
    )
    root = parse_ssml(ssml, where)
    for element in root.iter("break"):
        time = element.get("time")
        strength = element.get("strength")
        if time is None:
            assert strength in _BREAK_STRENGTHS, f"{where}: <break> without a valid time/strength"
            continue
        match = _BREAK_TIME.match(time)
        assert match, f"{where}: <break time={time!r}> is not a duration in s or ms"
        seconds = float(match[1]) / (1000 if match[2] == "ms" else 1)
        assert seconds <= MAX_BREAK_SECONDS, (
            f"{where}: <break time={time!r}> is over Alexa's {MAX_BREAK_SECONDS:g} s"
        )
    for element in root.iter("audio"):
        src = element.get("src", "")
        assert src.startswith("https://"), f"{where}: <audio src={src!r}> is not https"


def check_output_speech(speech: Any, where: str) -> None:
    assert isinstance(speech, dict), f"{where}: not an object: {speech!r}"
    kind = speech.get("type")
    if kind == "SSML":
        check_ssml(speech.get("ssml"), where)
    elif kind == "PlainText":
        text = speech.get("text")
        assert isinstance(text, str) and text, f"{where}: PlainText without text"
        assert len(text) <= MAX_SPEECH_CHARS, f"{where}: {len(text)} characters, over 8,000"
    else:
        raise AssertionError(f"{where}: unknown outputSpeech type {kind!r}")


def has_speech(response: dict[str, Any]) -> bool:
    return bool(response.get("response", {}).get("outputSpeech"))


def assert_alexa_response(response: dict[str, Any], request_type: str) -> None:
    """Fail, saying which rule, when `response` (a response envelope dict) breaks Alexa's rules."""
    assert isinstance(response, dict), f"{request_type}: response is not an object: {response!r}"
    assert response.get("version") == "1.0", f"{request_type}: response version is not '1.0'"
    body = response.get("response")
    assert isinstance(body, dict), f"{request_type}: response has no 'response' object"
    size = len(json.dumps(response).encode("utf-8"))
    assert size <= MAX_RESPONSE_BYTES, f"{request_type}: response is {size} bytes, over 24 KB"
    attributes = response.get("sessionAttributes")
    assert attributes is None or isinstance(attributes, dict), (
        f"{request_type}: sessionAttributes is not an object"
    )

    if speech_forbidden(request_type):
        for key in ("outputSpeech", "reprompt", "card"):
            assert key not in body, f"{request_type}: Alexa forbids {key} here, got {body[key]!r}"
        if request_type == "CanFulfillIntentRequest":
            verdict = body.get("canFulfillIntent", {}).get("canFulfill")
            assert verdict in ("YES", "NO", "MAYBE"), (
                f"CanFulfillIntentRequest: canFulfillIntent.canFulfill is {verdict!r}"
            )
        return

    if "outputSpeech" in body:
        check_output_speech(body["outputSpeech"], f"{request_type} outputSpeech")
    if "reprompt" in body:
        reprompt = body["reprompt"]
        assert isinstance(reprompt, dict) and "outputSpeech" in reprompt, (
            f"{request_type}: reprompt without outputSpeech: {reprompt!r}"
        )
        check_output_speech(reprompt["outputSpeech"], f"{request_type} reprompt")
    if body.get("outputSpeech") and body.get("shouldEndSession") is not True:
        assert body.get("reprompt"), (
            f"{request_type}: the session stays open after speech, but there is no reprompt"
        )
    card = body.get("card")
    if card is not None:
        assert card.get("type") in ("Simple", "Standard", "LinkAccount", "AskForPermissionsConsent")
        text = (card.get("title") or "") + (card.get("content") or card.get("text") or "")
        assert len(text) <= MAX_CARD_CHARS, f"{request_type}: card of {len(text)} characters"


# --- reading responses in tests -----------------------------------------------------------------


def ssml_text(ssml: str) -> str:
    """The words of SSML, as a listener hears them, whitespace folded."""
    root = parse_ssml(ssml)
    return re.sub(r"\s+", " ", " ".join(root.itertext())).strip()


def spoken(response: dict[str, Any]) -> str:
    """The plain words of a response's outputSpeech ('' when it has none)."""
    speech = response.get("response", {}).get("outputSpeech")
    if not speech:
        return ""
    return ssml_text(speech["ssml"]) if speech.get("type") == "SSML" else speech.get("text", "")


def reprompted(response: dict[str, Any]) -> str:
    """The plain words of a response's reprompt ('' when it has none)."""
    speech = (response.get("response", {}).get("reprompt") or {}).get("outputSpeech")
    if not speech:
        return ""
    return ssml_text(speech["ssml"]) if speech.get("type") == "SSML" else speech.get("text", "")


def ends_session(response: dict[str, Any]) -> bool:
    return response.get("response", {}).get("shouldEndSession") is True
