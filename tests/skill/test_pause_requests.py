"""SelfCarePauseIntent envelopes through the built skill, with a real SQLite file: the kind and
length a listener says, and the pause as hosted audio (base URL + the audio build's manifest) or,
without it, as the script spoken by Alexa's voice with <break>s. Every response is checked
against Alexa's rules."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alexa_rules import (
    assert_alexa_response,
    ends_session,
    parse_ssml,
    reprompted,
    spoken,
    ssml_text,
)

from skill.builder import TrustGuide, build_skill
from skill.config import Settings
from skill.content import Content
from skill.pauses import Clip, Manifest, PauseScript, catalog_for, estimate_ms

BASE_URL = "https://audio.example.com/audio"
MAX_AUDIO_MS = 240_000
MAX_BREAK_MS = 10_000
MAX_SPEECH_CHARS = 8000
BREAK_BEFORE_QUESTION_MS = 600  # the short silence between what is said and the question
DROPPED_REST_MS = 50  # a rest shorter than this after a cue is left out of the spoken script
LENGTH_WORDS = {60: "one-minute", 120: "two-minute", 180: "three-minute"}
MINUTES = {60: "PT1M", 120: "PT2M", 180: "PT3M"}

Send = Callable[..., dict[str, Any]]


# --- slots and responses ------------------------------------------------------------------------


def pause_slots(kind: tuple[str, str | None] | None, length: str | None) -> dict[str, Any]:
    return {"kind": kind, "length": length}  # (words, id): conftest.make_slot resolves it


def ssml(response: dict[str, Any]) -> str:
    return response["response"]["outputSpeech"]["ssml"]


def reprompt_ssml(response: dict[str, Any]) -> str:
    return response["response"]["reprompt"]["outputSpeech"]["ssml"]


def audio_sources(markup: str) -> list[str]:
    return [element.get("src", "") for element in parse_ssml(markup).iter("audio")]


def breaks_ms(markup: str) -> list[float]:
    """Every <break>'s time in milliseconds."""
    times = []
    for element in parse_ssml(markup).iter("break"):
        number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)", element.get("time", "")).groups()
        times.append(float(number) * (1 if unit == "ms" else 1000))
    return times


def sentences(markup: str) -> list[str]:
    """The text of every <s> element, in order (the spoken script's cues)."""
    return ["".join(element.itertext()) for element in parse_ssml(markup).iter("s")]


def without_audio(markup: str) -> str:
    """The words of SSML with its <audio> elements left out."""
    return ssml_text(re.sub(r"<audio\b[^>]*/>", " ", markup))


def stored_record(db_path: Path) -> dict[str, Any]:
    with sqlite3.connect(db_path) as conn:
        ((record,),) = conn.execute("SELECT record FROM progress").fetchall()
    return json.loads(record)


def assert_listening(response: dict[str, Any]) -> None:
    assert response["response"].get("shouldEndSession") is False, "the session should stay open"
    assert reprompted(response), "an open session needs a reprompt"


# --- manifests and skills -----------------------------------------------------------------------


def clip_for(script: PauseScript, duration_ms: int | None = None) -> Clip:
    """The clip the audio build would list for `script`: file names carry a content hash, so
    the skill has to take them from the manifest rather than make them up."""
    digest = hashlib.sha256(script.id.encode()).hexdigest()
    return Clip(
        id=script.id,
        kind=script.kind,
        length_s=script.length_s,
        duration_ms=duration_ms if duration_ms is not None else script.length_s * 1000 + 140,
        sha256=digest,
        engine="espeak",
        file=f"{script.id}.{digest[:10]}.mp3",
        source=digest,
        lufs=-16.1,
    )


@pytest.fixture
def write_manifest(tmp_path: Path) -> Callable[[list[Clip]], Path]:
    def write(clips: list[Clip]) -> Path:
        path = tmp_path / "audio-out" / "manifest.json"
        path.parent.mkdir(exist_ok=True)
        manifest = Manifest({clip.id: clip for clip in clips})
        path.write_text(json.dumps(manifest.to_json(), indent=2), encoding="utf-8")
        return path

    return write


@pytest.fixture
def catalog(content: Content):
    return catalog_for(content)


@pytest.fixture
def manifest(catalog, write_manifest) -> dict[str, Clip]:
    """A manifest.json in tmp_path listing a clip for every script; returns the clips by id."""
    clips = {script.id: clip_for(script) for script in catalog.scripts}
    write_manifest(list(clips.values()))
    return clips


@pytest.fixture
def hosted_skill(settings: Settings, manifest: dict[str, Clip], tmp_path: Path) -> TrustGuide:
    return build_skill(
        settings._replace(
            audio_base_url=BASE_URL, audio_manifest=str(tmp_path / "audio-out" / "manifest.json")
        )
    )


def sender(skill: TrustGuide, envelope) -> Send:
    def send(name: str = "intent", **changes: Any) -> dict[str, Any]:
        event = envelope(name, **changes)
        response = skill.handle(event)
        assert_alexa_response(response, event["request"]["type"])
        return response

    return send


@pytest.fixture
def send(skill: TrustGuide, envelope) -> Send:
    """One request to the skill without hosted audio."""
    return sender(skill, envelope)


@pytest.fixture
def send_hosted(hosted_skill: TrustGuide, envelope) -> Send:
    """One request to the skill with hosted audio and a full manifest."""
    return sender(hosted_skill, envelope)


def pause(
    send: Send, kind: tuple[str, str | None] | None = None, length: str | None = None
) -> dict[str, Any]:
    return send(intent="SelfCarePauseIntent", slots=pause_slots(kind, length))


def go_to(send: Send, number: int) -> dict[str, Any]:
    return send(intent="GoToStepIntent", slots={"number": str(number), "topic": None})


# --- what the listener asks for -----------------------------------------------------------------


def test_the_envelopes_kind_matched_by_entity_resolution_plays_a_breathing_pause(
    send_hosted: Send, manifest: dict[str, Clip]
) -> None:
    response = send_hosted("pause_kind_match")
    assert audio_sources(ssml(response)) == [f"{BASE_URL}/{manifest['breathing-60'].file}"]
    assert spoken(response).startswith("Here's a one-minute breathing pause.")
    assert_listening(response)


def test_the_envelopes_raw_words_my_senses_play_a_grounding_pause(
    send_hosted: Send, manifest: dict[str, Clip]
) -> None:
    response = send_hosted("pause_kind_no_match")
    assert audio_sources(ssml(response)) == [f"{BASE_URL}/{manifest['grounding-60'].file}"]
    assert spoken(response).startswith("Here's a one-minute grounding pause.")


def test_the_envelopes_length_alone_plays_a_two_minute_breathing_pause(
    send_hosted: Send, manifest: dict[str, Clip]
) -> None:
    response = send_hosted("pause_length")
    assert audio_sources(ssml(response)) == [f"{BASE_URL}/{manifest['breathing-120'].file}"]
    assert spoken(response).startswith("Here's a two-minute breathing pause.")
    assert "My pauses last" not in spoken(response), "two minutes is offered: nothing to adjust"


@pytest.mark.parametrize(
    ("words", "kind_id", "script"),
    [
        ("breathing", "breathing", "breathing-60"),
        ("tight shoulders", "stretch", "stretch-60"),
        ("kindness", "self-compassion", "self-compassion-60"),
        ("my senses", None, "grounding-60"),
        ("a neck stretch", None, "stretch-60"),
        ("go easy on myself", None, "self-compassion-60"),
    ],
)
def test_the_kind_said_is_the_kind_played(
    send_hosted: Send, manifest: dict[str, Clip], words: str, kind_id: str | None, script: str
) -> None:
    response = pause(send_hosted, kind=(words, kind_id))
    assert audio_sources(ssml(response)) == [f"{BASE_URL}/{manifest[script].file}"], (
        f"{words!r} ({kind_id}) should play {script}"
    )


def test_an_unknown_kind_asks_which_kind_and_keeps_the_session_open(
    send: Send, db_path: Path
) -> None:
    go_to(send, 2)
    response = pause(send, kind=("gardening", None), length="PT2M")
    text = spoken(response)
    assert text.startswith("Sorry, I don't have a pause for gardening."), text
    for name in ("breathing", "grounding", "neck and shoulder stretch", "self-compassion"):
        assert name in text, f"the question should name the {name} pause: {text}"
    assert text.endswith("Which would you like?")
    assert_listening(response)
    assert not audio_sources(ssml(response)) and not sentences(ssml(response)), "nothing played"
    record = stored_record(db_path)
    assert (record["step"], record["question"]) == (2, "PAUSE_KIND")


def test_help_while_choosing_a_kind_asks_again(send: Send) -> None:
    pause(send, kind=("gardening", None))
    response = send(intent="AMAZON.HelpIntent")
    assert spoken(response).endswith("Which would you like?"), spoken(response)
    assert "breathing" in reprompted(response)
    assert_listening(response)


def test_no_kind_and_no_length_is_a_one_minute_breathing_pause(
    send_hosted: Send, manifest: dict[str, Clip]
) -> None:
    response = pause(send_hosted)
    assert audio_sources(ssml(response)) == [f"{BASE_URL}/{manifest['breathing-60'].file}"]
    assert spoken(response).startswith("Here's a one-minute breathing pause."), spoken(response)


@pytest.mark.parametrize(
    ("length", "script", "said_first"),
    [
        ("PT1M", "breathing-60", ""),
        ("PT2M", "breathing-120", ""),
        ("PT3M", "breathing-180", ""),
        (
            "PT5M",
            "breathing-180",
            "My pauses last one, two or three minutes, so here's the three-minute one.",
        ),
        (
            "PT90S",
            "breathing-60",
            "My pauses last one, two or three minutes, so here's the one-minute one.",
        ),
        (
            "PT1M30S",
            "breathing-60",
            "My pauses last one, two or three minutes, so here's the one-minute one.",
        ),
        (
            "PT150S",
            "breathing-120",
            "My pauses last one, two or three minutes, so here's the two-minute one.",
        ),
        ("PTX", "breathing-60", "I didn't catch how long, so let's take one minute."),
        ("?", "breathing-60", "I didn't catch how long, so let's take one minute."),
    ],
)
def test_the_length_played_is_the_nearest_offered_and_a_change_is_said_aloud(
    send_hosted: Send, manifest: dict[str, Clip], length: str, script: str, said_first: str
) -> None:
    response = pause(send_hosted, length=length)
    text = spoken(response)
    assert audio_sources(ssml(response)) == [f"{BASE_URL}/{manifest[script].file}"], (
        f"{length} should play {script}"
    )
    intro = f"Here's a {LENGTH_WORDS[manifest[script].length_s]} breathing pause."
    expected = f"{said_first} {intro}".strip()
    assert text.startswith(expected), f"for {length} expected {expected!r}, heard {text!r}"


# --- hosted audio -------------------------------------------------------------------------------


def every_script(content: Content) -> list[PauseScript]:
    return list(catalog_for(content).scripts)


@pytest.mark.parametrize("asked", ["exact", "adjusted"])
def test_hosted_audio_plays_the_manifests_clip_and_speaks_no_cue(
    send_hosted: Send, content: Content, manifest: dict[str, Clip], asked: str
) -> None:
    go_to(send_hosted, 6)  # the question after the pause names step 7
    for script in every_script(content):
        length = MINUTES[script.length_s] if asked == "exact" else f"PT{script.length_s + 10}S"
        response = pause(send_hosted, kind=(script.kind, script.kind), length=length)
        markup = ssml(response)
        clip = manifest[script.id]
        assert audio_sources(markup) == [f"{BASE_URL}/{clip.file}"], (
            f"{script.id}: expected exactly one <audio> of the manifest's file, got {markup}"
        )
        assert clip.duration_ms <= MAX_AUDIO_MS, f"{script.id}: over Alexa's 240 s of audio"
        assert not sentences(markup), f"{script.id}: cues spoken over the hosted clip"
        kind_name = catalog_for(content).kind(script.kind).name
        adjusted = (
            f"My pauses last one, two or three minutes, "
            f"so here's the {LENGTH_WORDS[script.length_s]} one. "
            if asked == "adjusted"
            else ""
        )
        assert without_audio(markup) == (
            f"{adjusted}Here's a {LENGTH_WORDS[script.length_s]} {kind_name}. "
            "Get comfortable, and follow along. Welcome back. "
            "Shall we go on with step 7, Seek Professional Help?"
        ), f"{script.id}: only the intro, the welcome back and the question are spoken"
        assert len(markup) <= MAX_SPEECH_CHARS
        assert not audio_sources(reprompt_ssml(response)), f"{script.id}: audio in the reprompt"
        assert_listening(response)


def test_the_base_url_and_manifest_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    db_path: Path,
    tmp_path: Path,
    manifest: dict[str, Clip],
    envelope,
) -> None:
    monkeypatch.setenv("TRUST_GUIDE_STORE", f"sqlite:///{db_path}")
    monkeypatch.setenv("TRUST_GUIDE_AUDIO_BASE_URL", BASE_URL + "/")  # a trailing slash too
    monkeypatch.setenv("TRUST_GUIDE_AUDIO_MANIFEST", str(tmp_path / "audio-out" / "manifest.json"))
    send_env = sender(build_skill(Settings.from_env()), envelope)
    response = pause(send_env, kind=("stretch", "stretch"), length="PT3M")
    assert audio_sources(ssml(response)) == [f"{BASE_URL}/{manifest['stretch-180'].file}"]


# --- the script spoken by Alexa's voice ---------------------------------------------------------


def assert_spoken_script(response: dict[str, Any], script: PauseScript) -> None:
    """The pause is the script's cues, in order, with breaks of at most 10 s filling its time."""
    markup = ssml(response)
    assert not audio_sources(markup), f"{script.id}: <audio> without hosted audio: {markup}"
    assert sentences(markup) == [cue.text for cue in script.cues], (
        f"{script.id}: the spoken cues are not the script's, in order"
    )
    breaks = breaks_ms(markup)
    assert breaks and max(breaks) <= MAX_BREAK_MS, f"{script.id}: a break over 10 s"
    assert sum(breaks) <= MAX_AUDIO_MS, f"{script.id}: {sum(breaks) / 1000} s of breaks"
    length_ms = script.length_s * 1000
    filled = sum(breaks) - BREAK_BEFORE_QUESTION_MS + sum(estimate_ms(c.text) for c in script.cues)
    slack = DROPPED_REST_MS * (len(script.cues) + 1)
    assert length_ms - slack <= filled <= length_ms, (
        f"{script.id}: cues and breaks last {filled / 1000:.1f} s, not its {script.length_s} s"
    )
    assert len(markup) <= MAX_SPEECH_CHARS, f"{script.id}: {len(markup)} characters"
    assert not audio_sources(reprompt_ssml(response)), f"{script.id}: audio in the reprompt"
    assert not breaks_ms(reprompt_ssml(response)), f"{script.id}: a pause in the reprompt"


@pytest.mark.parametrize("asked", ["exact", "adjusted"])
def test_without_a_base_url_every_pause_is_the_script_spoken_within_alexas_limits(
    send: Send, content: Content, asked: str
) -> None:
    go_to(send, 6)
    for script in every_script(content):
        length = MINUTES[script.length_s] if asked == "exact" else f"PT{script.length_s + 10}S"
        response = pause(send, kind=(script.kind, script.kind), length=length)
        assert_spoken_script(response, script)
        assert spoken(response).endswith("Shall we go on with step 7, Seek Professional Help?")
        assert_listening(response)


def test_a_base_url_without_a_manifest_speaks_the_script(
    settings: Settings, tmp_path: Path, envelope, content: Content
) -> None:
    missing = tmp_path / "never-built" / "manifest.json"
    skill = build_skill(settings._replace(audio_base_url=BASE_URL, audio_manifest=str(missing)))
    response = pause(sender(skill, envelope), kind=("grounding", "grounding"), length="PT2M")
    assert_spoken_script(response, catalog_for(content).script("grounding", 120))


def test_a_corrupt_manifest_speaks_the_script(
    settings: Settings, tmp_path: Path, envelope, content: Content
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"version": 1, "clips": [{"id": "breathing-60"', encoding="utf-8")
    skill = build_skill(settings._replace(audio_base_url=BASE_URL, audio_manifest=str(path)))
    response = pause(sender(skill, envelope))
    assert_spoken_script(response, catalog_for(content).script("breathing", 60))


def test_a_manifest_without_the_clip_speaks_that_pause_and_hosts_the_others(
    settings: Settings, write_manifest, envelope, content: Content
) -> None:
    breathing = catalog_for(content).script("breathing", 60)
    path = write_manifest([clip_for(breathing)])
    skill = build_skill(settings._replace(audio_base_url=BASE_URL, audio_manifest=str(path)))
    send = sender(skill, envelope)
    response = pause(send, kind=("grounding", "grounding"))
    assert_spoken_script(response, catalog_for(content).script("grounding", 60))
    response = pause(send, kind=("breathing", "breathing"))
    assert audio_sources(ssml(response)) == [f"{BASE_URL}/{clip_for(breathing).file}"]


def test_a_clip_over_alexas_audio_limit_is_not_played_and_the_script_is_spoken(
    settings: Settings, write_manifest, envelope, content: Content
) -> None:
    script = catalog_for(content).script("breathing", 180)
    path = write_manifest([clip_for(script, duration_ms=MAX_AUDIO_MS + 5_000)])
    skill = build_skill(settings._replace(audio_base_url=BASE_URL, audio_manifest=str(path)))
    response = pause(sender(skill, envelope), kind=("breathing", "breathing"), length="PT3M")
    assert "went wrong" not in spoken(response), "a pause was answered with the apology"
    assert_spoken_script(response, script)


def test_a_clip_of_exactly_alexas_audio_limit_is_played(
    settings: Settings, write_manifest, envelope, content: Content
) -> None:
    script = catalog_for(content).script("stretch", 180)
    clip = clip_for(script, duration_ms=MAX_AUDIO_MS)
    path = write_manifest([clip])
    skill = build_skill(settings._replace(audio_base_url=BASE_URL, audio_manifest=str(path)))
    response = pause(sender(skill, envelope), kind=("stretch", "stretch"), length="PT3M")
    assert audio_sources(ssml(response)) == [f"{BASE_URL}/{clip.file}"], "240 s is allowed"


# --- the place is kept --------------------------------------------------------------------------


def test_a_pause_keeps_the_stored_place_and_remembers_the_pause(send: Send, db_path: Path) -> None:
    go_to(send, 5)
    response = pause(send, kind=("stretch", "stretch"), length="PT2M")
    assert spoken(response).endswith("Shall we go on with step 6, Offer Empathy and Validation?")
    assert "step 6" in reprompted(response)
    assert "card" not in response["response"], "a pause shows no step card"
    record = stored_record(db_path)
    assert record["step"] == 5 and record["heard"] == [5], f"the place moved: {record}"
    assert record["question"] == "AFTER_PAUSE"
    assert record["pause"] == {"kind": "stretch", "length_s": 120}
    response = send(intent="AMAZON.YesIntent")
    assert spoken(response).startswith("Step 6: Offer Empathy and Validation."), spoken(response)


def test_a_pause_from_a_new_listener_offers_to_begin_with_step_one(send: Send) -> None:
    response = send("pause_kind_match")
    assert spoken(response).endswith("Welcome back. Shall I begin with step 1, Educate Yourself?")
    assert_listening(response)
    response = send(intent="AMAZON.YesIntent")
    assert spoken(response).startswith("Step 1: Educate Yourself.")


def test_a_pause_after_the_last_step_offers_to_start_over(send: Send) -> None:
    go_to(send, 8)
    response = pause(send)
    assert spoken(response).endswith("Welcome back. Would you like to start over from step one?")
    assert not ends_session(response)
