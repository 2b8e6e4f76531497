"""Speech: a guide `Reply` becomes what Alexa says (SSML), the reprompt, and the card.

Owns: all SSML building, and Alexa's output limits, checked here and nowhere else (output speech
at most 8,000 characters; a `<break>` at most 10 s). Phrases come from the locale's phrases.json;
every piece of text is XML-escaped, so the SSML is well-formed by construction. No SDK imports.
"""

import re
from typing import TYPE_CHECKING, NamedTuple

from skill.content import Content
from skill.guide import Reply, Said, pause_catalog

if TYPE_CHECKING:  # pauses load on first use: most responses have none (cold start)
    from skill.pauses import Manifest, PauseScript

MAX_SPEECH_CHARS = 8000  # Alexa: outputSpeech.ssml, including the <speak> tags
MAX_BREAK_MS = 10_000  # Alexa: a single <break> may be at most 10 seconds
MAX_AUDIO_MS = 240_000  # Alexa: all <audio> in one response together at most 240 seconds
PAUSE_BEFORE_QUESTION_MS = 600


class SpeechLimitError(ValueError):
    """A response would break one of Alexa's output limits (a bug in content or phrasing)."""


class Card(NamedTuple):
    title: str
    text: str


class AudioHost(NamedTuple):
    """Where the pause clips are hosted (an https base URL) and what the build made (manifest)."""

    base_url: str
    manifest: "Manifest"

    def clip_url(self, script: "PauseScript") -> tuple[str, int] | None:
        clip = self.manifest.clips.get(script.id)
        if clip is None or not 0 < clip.duration_ms <= MAX_AUDIO_MS:
            return None  # not built, or too long for Alexa: the script is spoken instead
        return f"{self.base_url}/{clip.file}", clip.duration_ms


class Speech(NamedTuple):
    """One response's output: SSML (with <speak>), an SSML reprompt when listening, a card, and
    what a screen shows (the data for skill/data/apl/step.json) when a step was read."""

    ssml: str
    reprompt: str | None
    card: Card | None
    end_session: bool
    screen: dict[str, str] | None = None


def escape(text: str) -> str:
    """Text made safe inside SSML (&, < and >). Written out rather than imported: xml.sax pulls
    in urllib and html pulls in its entity tables, milliseconds of every cold start."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def brk(ms: int) -> str:
    """An SSML break; Alexa allows at most 10 s in one."""
    if not 0 <= ms <= MAX_BREAK_MS:
        raise SpeechLimitError(f"break of {ms} ms is over Alexa's 10 s limit")
    return f'<break time="{ms}ms"/>'


def _fields(content: Content, step: int | None, pause: str | None = None) -> dict[str, object]:
    fields: dict[str, object] = {"total": content.total}
    if step is not None and 1 <= step <= content.total:
        fields.update(step=step, title=content.step(step).title)
    if pause is not None:
        script = _script(content, pause)
        kind = pause_catalog(content).kind(script.kind)
        fields.update(
            length=content.phrases["format"]["lengths"][str(script.length_s)], pause=kind.name
        )
    return fields


def _script(content: Content, pause: str) -> "PauseScript":
    return next(s for s in pause_catalog(content).scripts if s.id == pause)


def _silence(ms: int) -> list[str]:
    """A silence of any length as breaks of at most 10 s each."""
    whole, rest = divmod(max(ms, 0), MAX_BREAK_MS)
    return [brk(MAX_BREAK_MS)] * whole + ([brk(rest)] if rest >= 50 else [])


def _pause(content: Content, pause: str, audio: AudioHost | None) -> tuple[str, int]:
    """A pause as SSML, and how long it plays: the hosted clip, else the same script spoken by
    Alexa's voice, each cue followed by a break that fills the time to the next one."""
    from skill.pauses import estimate_ms

    script = _script(content, pause)
    hosted = audio.clip_url(script) if audio is not None else None
    if hosted is not None:
        url, duration_ms = hosted
        return f'<audio src="{escape(url)}"/>', duration_ms
    parts = _silence(script.cues[0].at_ms)
    ends = [cue.at_ms for cue in script.cues[1:]] + [script.length_s * 1000]
    for cue, end in zip(script.cues, ends, strict=True):
        parts.append(f"<s>{escape(cue.text)}</s>")
        parts += _silence(end - cue.at_ms - estimate_ms(cue.text))
    return "".join(parts), script.length_s * 1000


def _phrase(content: Content, group: str, key: str, step: int | None = None, **extra: str) -> str:
    template = content.phrases[group][key]
    return escape(template.format(**_fields(content, step), **extra))


def _said(content: Content, item: Said) -> str:
    """SSML for one thing said (a pause itself is rendered by _pause)."""
    match item.kind:
        case "PauseIntro" | "PauseLengthAdjusted":
            fields = _fields(content, None, item.value)
            return escape(content.phrases["said"][item.kind].format(**fields))
        case "StepRead":
            step = content.step(item.step or 1)
            body = "".join(f"<s>{escape(sentence)}</s>" for sentence in step.spoken)
            return f"<p>{_phrase(content, 'said', 'StepRead', step.number)}</p><p>{body}</p>"
        case "GuideClosing":
            return (
                f"<p>{escape(content.closing)}</p><p>{_phrase(content, 'said', 'GuideClosing')}</p>"
            )
        case "StepList":
            items = " ".join(
                content.phrases["format"]["list_item"].format(step=s.number, title=s.title)
                for s in content.steps
            )
            return f"<p>{_phrase(content, 'said', 'StepList', list=items)}</p>"
        case "OutOfRange" if item.value is None:
            return _phrase(content, "said", "NumberNotCaught")
        case "Location":
            return _phrase(content, "said", "Location", item.step, heard=item.value or "0")
        case _:
            return _phrase(content, "said", item.kind, item.step, value=item.value or "")


def _question(content: Content, reply: Reply) -> tuple[str, str]:
    key = reply.ask.value
    if key in ("WHICH_STEP", "OFFER_PAUSE") and reply.ask_step is None:
        key += "_AT_END"
    elif key == "GO_ON" and reply.ask_step == 1:
        key = "BEGIN"  # nothing heard yet: nothing to repeat
    ask = content.phrases["ask"][key]
    fields = _fields(content, reply.ask_step, reply.ask_pause)
    if key == "PAUSE_KIND":
        fields["kinds"] = content.phrases["format"]["or"].join(
            k.name for k in pause_catalog(content).kinds
        )
    return escape(ask["prompt"].format(**fields)), escape(ask["reprompt"].format(**fields))


def render(reply: Reply, content: Content, audio: AudioHost | None = None) -> Speech:
    """Phrase a Reply. A reply that keeps the session open always gets a reprompt."""
    if reply.silent:
        return Speech(ssml="", reprompt=None, card=None, end_session=True)
    parts, played = [], 0
    for item in reply.said:
        if item.kind == "Pause":
            ssml, duration_ms = _pause(content, item.value or "", audio)
            parts.append(ssml)
            played += duration_ms
        else:
            parts.append(_said(content, item))
    if played > MAX_AUDIO_MS:
        raise SpeechLimitError(f"{played / 1000:g} s of pauses is over Alexa's 240 s a response")
    reprompt = None
    if not reply.end_session:
        prompt, again = _question(content, reply)
        parts += [brk(PAUSE_BEFORE_QUESTION_MS), prompt]
        reprompt = f"<speak>{again}</speak>"
    ssml = f"<speak>{' '.join(parts)}</speak>"
    check(ssml)
    card = screen = None
    if reply.card_step is not None:
        step = content.step(reply.card_step)
        formats = content.phrases["format"]
        title = formats["card_title"].format(step=step.number, title=step.title)
        card = Card(title=title, text=step.card)
        screen = {
            "header": formats["screen_header"].format(
                step=step.number, total=content.total, guide=content.title
            ),
            "title": step.title,
            "text": step.card,
            "hint": formats["screen_hint"],
        }
    return Speech(ssml, reprompt, card, reply.end_session, screen)


def with_notice(ssml: str, content: Content, key: str) -> str:
    """The same speech with a short notice first (e.g. that the listener's place was not saved)."""
    notice = _phrase(content, "said", key)
    body = ssml.removeprefix("<speak>")
    ssml = f"<speak>{notice} {brk(300)} {body}"
    check(ssml)
    return ssml


def check(ssml: str) -> None:
    """Enforce the limits that do not follow from construction: the size of the whole response."""
    if len(ssml) > MAX_SPEECH_CHARS:
        raise SpeechLimitError(f"speech of {len(ssml)} characters is over Alexa's 8,000")


_TAG = r"<[^>]+>"  # compiled on first use (re caches it): only the terminal and logs need these
_BREAK = r"<break[^>]*/>"


def to_text(ssml: str) -> str:
    """Plain text of SSML, as a listener would hear it (for the terminal and logs)."""
    text = re.sub(_BREAK, " ", ssml)
    text = re.sub(r"</(p|s)>", " ", text)
    text = re.sub(_TAG, "", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"\s+", " ", text).strip()
