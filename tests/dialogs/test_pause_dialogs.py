"""Self-care pauses in whole conversations: the offer after three steps in a row and after step 8,
yes and no to it, the way back to the listener's place, and pauses asked for mid-guide. The
`conversation` fixture carries the session and one SQLite file between turns and checks every
response against Alexa's rules."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alexa_rules import parse_ssml

from skill import content as content_module
from skill.builder import build_skill
from skill.content import Content
from skill.pauses import Clip, Manifest, catalog_for

BASE_URL = "https://audio.example.com/audio"
OFFER_AFTER_STEP_3 = "Would you like a one-minute breathing pause before step 4?"
BACK_TO_STEP_4 = "Shall we go on with step 4, Set Clear Boundaries?"
START_OVER = "Would you like to start over from step one?"
FIRST_CUES = {script.cues[0].text for script in catalog_for(content_module.load()).scripts}


def ask_for_pause(talk, kind: str | None = None, length: str | None = None) -> dict[str, Any]:
    """ "Give me a two minute stretch" (kind resolved by Alexa, length as AMAZON.DURATION)."""
    return talk.intent("SelfCarePauseIntent", kind=(kind, kind) if kind else None, length=length)


def ssml(talk) -> str:
    return talk.last["response"]["outputSpeech"]["ssml"]


def played_a_pause(talk) -> bool:
    """The last response played a pause: hosted <audio>, or a script's first cue spoken."""
    if any(True for _ in parse_ssml(ssml(talk)).iter("audio")):
        return True
    return any(cue in talk.said for cue in FIRST_CUES)


def listening(talk) -> bool:
    return talk.in_session and talk.last["response"].get("shouldEndSession") is False


def stored(db_path: Path) -> dict[str, Any]:
    with sqlite3.connect(db_path) as conn:
        ((record,),) = conn.execute("SELECT record FROM progress").fetchall()
    return json.loads(record)


def assert_reads(talk, step: int, title: str) -> None:
    assert talk.said.startswith(f"Step {step}: {title}."), f"expected step {step}: {talk.said}"
    assert not played_a_pause(talk), f"a pause was played with step {step}"


def assert_step_read_in_full(talk, content: Content, step: int) -> None:
    for sentence in content.step(step).spoken:
        assert sentence in talk.said, f"step {step} not read in full: missing {sentence!r}"


def three_in_a_row(talk) -> None:
    """Launch, yes, next, next: steps 1, 2 and 3 heard in a row."""
    talk.launch()
    talk.yes()
    talk.next()
    talk.next()


# --- the offer after three steps in a row -------------------------------------------------------


def test_the_third_step_in_a_row_is_read_in_full_then_a_pause_is_offered(
    conversation, content: Content
) -> None:
    talk = conversation
    talk.launch()
    talk.yes()
    assert talk.said.endswith("Shall I go on to step 2, Be Patient and Understanding?")
    talk.next()
    assert talk.said.endswith("Shall I go on to step 3, Create a Safe Environment?")
    talk.next()
    assert_reads(talk, 3, "Create a Safe Environment")
    assert_step_read_in_full(talk, content, 3)
    assert talk.said.endswith(OFFER_AFTER_STEP_3), f"no offer after step 3: {talk.said}"
    assert "yes" in talk.reprompt and "step 4" in talk.reprompt, talk.reprompt
    card = talk.last["response"]["card"]
    assert card["title"] == "Step 3: Create a Safe Environment", "the card shows the step read"
    assert listening(talk)


def test_yes_to_the_offer_plays_the_pause_and_brings_the_listener_back_to_step_four(
    conversation, db_path: Path
) -> None:
    talk = conversation
    three_in_a_row(talk)
    talk.yes()
    assert played_a_pause(talk), f"yes should play the pause: {talk.said}"
    assert talk.said.startswith("Here's a one-minute breathing pause."), talk.said
    assert talk.said.endswith(f"Welcome back. {BACK_TO_STEP_4}"), talk.said
    assert "step 4" in talk.reprompt
    record = stored(db_path)
    assert record["step"] == 3 and record["heard"] == [1, 2, 3], f"the place moved: {record}"
    assert record["question"] == "AFTER_PAUSE"
    talk.yes()
    assert_reads(talk, 4, "Set Clear Boundaries")


def test_where_am_i_after_the_pause_is_still_step_three(conversation) -> None:
    talk = conversation
    three_in_a_row(talk)
    talk.yes()
    talk.where_am_i()
    assert talk.said.startswith("You're on step 3 of 8, Create a Safe Environment."), talk.said
    talk.next()
    assert_reads(talk, 4, "Set Clear Boundaries")


def test_no_to_the_offer_reads_step_four(conversation, content: Content) -> None:
    talk = conversation
    three_in_a_row(talk)
    talk.no()
    assert_reads(talk, 4, "Set Clear Boundaries")
    assert_step_read_in_full(talk, content, 4)
    assert talk.said.endswith("Shall I go on to step 5, Be Consistent and Reliable?")


def test_next_instead_of_answering_the_offer_reads_step_four(conversation) -> None:
    talk = conversation
    three_in_a_row(talk)
    talk.next()
    assert_reads(talk, 4, "Set Clear Boundaries")


def test_the_offer_comes_once_a_session_and_again_in_the_next(conversation, settings) -> None:
    talk = conversation
    three_in_a_row(talk)
    talk.no()  # step 4
    for step in (5, 6):
        talk.next()
        assert f"Step {step}:" in talk.said
        assert "pause" not in talk.said, f"a second offer in one session, after step {step}"
    assert talk.said.endswith("Shall I go on to step 7, Seek Professional Help?"), talk.said
    talk.stop()
    assert not talk.in_session

    talk.new_session(skill=build_skill(settings))  # another day, another Lambda container
    talk.launch()
    talk.go_to(number="1")
    talk.next()
    assert "pause" not in talk.said, "offered after two steps"
    talk.next()
    assert_reads(talk, 3, "Create a Safe Environment")
    assert talk.said.endswith(OFFER_AFTER_STEP_3), f"no offer in the new session: {talk.said}"


def test_the_offer_suggests_the_listeners_last_pause(conversation) -> None:
    talk = conversation
    talk.launch()
    talk.go_to(number="1")
    ask_for_pause(talk, kind="stretch", length="PT2M")
    assert talk.said.startswith("Here's a two-minute neck and shoulder stretch."), talk.said
    assert talk.said.endswith("Shall we go on with step 2, Be Patient and Understanding?")
    talk.next()
    talk.next()
    talk.next()
    assert_reads(talk, 4, "Set Clear Boundaries")
    assert talk.said.endswith(
        "Would you like a two-minute neck and shoulder stretch before step 5?"
    ), talk.said
    talk.yes()
    assert talk.said.startswith("Here's a two-minute neck and shoulder stretch."), talk.said


def test_the_last_pause_is_remembered_across_sessions(conversation, settings) -> None:
    talk = conversation
    talk.launch()
    ask_for_pause(talk, kind="grounding", length="PT3M")
    talk.stop()
    talk.new_session(skill=build_skill(settings))
    talk.launch()
    talk.go_to(number="8")
    assert talk.said.endswith("Would you like a three-minute grounding pause before you go?")


# --- after step 8 -------------------------------------------------------------------------------


def test_step_eight_closes_the_guide_and_offers_a_pause_before_you_go(
    conversation, content: Content
) -> None:
    talk = conversation
    talk.launch()
    talk.go_to(number="8")
    assert_reads(talk, 8, "Practice Self-Care")
    assert_step_read_in_full(talk, content, 8)
    assert content.closing in talk.said, "the guide's closing words are missing"
    assert talk.said.endswith(
        "That was the last step. Would you like a one-minute breathing pause before you go?"
    ), talk.said
    assert "no to finish" in talk.reprompt
    talk.yes()
    assert played_a_pause(talk)
    assert talk.said.endswith(f"Welcome back. {START_OVER}"), talk.said
    talk.yes()
    assert talk.said.startswith("Okay, let's begin again. Step 1: Educate Yourself.")


def test_no_to_the_pause_after_step_eight_completes_the_guide(conversation) -> None:
    talk = conversation
    talk.launch()
    talk.go_to(number="7")
    talk.next()
    talk.no()
    assert not played_a_pause(talk)
    assert talk.said == (
        "There are no more steps: you've reached the end of the guide. " + START_OVER
    ), talk.said
    assert listening(talk)


# --- help and fallback while a pause question is pending ----------------------------------------


@pytest.mark.parametrize("what", ["help", "fallback"])
def test_help_and_fallback_during_the_offer_ask_it_again(conversation, what: str) -> None:
    talk = conversation
    three_in_a_row(talk)
    getattr(talk, what)()
    assert talk.said.endswith(OFFER_AFTER_STEP_3), f"{what} lost the offer: {talk.said}"
    assert not played_a_pause(talk)
    assert listening(talk)
    talk.yes()
    assert played_a_pause(talk), f"yes after {what} should still play the pause"


@pytest.mark.parametrize("what", ["help", "fallback"])
def test_help_and_fallback_during_the_offer_at_step_eight_ask_it_again(
    conversation, what: str
) -> None:
    talk = conversation
    talk.launch()
    talk.go_to(number="8")
    getattr(talk, what)()
    assert talk.said.endswith("Would you like a one-minute breathing pause before you go?"), (
        f"{what} at step 8: {talk.said}"
    )
    assert listening(talk)
    talk.no()
    assert talk.said.startswith("There are no more steps: you've reached the end of the guide.")


@pytest.mark.parametrize("what", ["help", "fallback"])
def test_help_and_fallback_after_a_pause_ask_again_whether_to_go_on(
    conversation, what: str
) -> None:
    talk = conversation
    three_in_a_row(talk)
    talk.yes()
    getattr(talk, what)()
    assert talk.said.endswith(BACK_TO_STEP_4), f"{what} after the pause: {talk.said}"
    assert listening(talk)
    talk.yes()
    assert_reads(talk, 4, "Set Clear Boundaries")


@pytest.mark.parametrize("what", ["help", "fallback"])
def test_help_and_fallback_after_a_pause_at_step_eight_ask_to_start_over(
    conversation, what: str
) -> None:
    talk = conversation
    talk.launch()
    talk.go_to(number="8")
    talk.yes()
    getattr(talk, what)()
    assert talk.said.endswith(START_OVER), f"{what} after the last pause: {talk.said}"
    assert listening(talk)


# --- pauses asked for ---------------------------------------------------------------------------


def test_a_pause_mid_guide_keeps_the_place_and_next_reads_the_next_step(
    conversation, db_path: Path
) -> None:
    talk = conversation
    talk.launch()
    talk.go_to(number="5")
    ask_for_pause(talk)  # "I need a moment"
    assert talk.said.startswith("Here's a one-minute breathing pause."), talk.said
    assert talk.said.endswith("Shall we go on with step 6, Offer Empathy and Validation?")
    assert stored(db_path)["step"] == 5
    talk.next()
    assert_reads(talk, 6, "Offer Empathy and Validation")


def test_no_after_a_pause_says_goodbye_and_launch_resumes_at_the_place(conversation) -> None:
    talk = conversation
    three_in_a_row(talk)
    talk.yes()
    talk.no()
    assert "I'll remember that you were on step 3" in talk.said, talk.said
    assert not talk.in_session
    talk.launch()
    assert talk.said.startswith("Welcome back. Last time you heard step 3"), talk.said
    talk.yes()
    assert_reads(talk, 4, "Set Clear Boundaries")


def test_a_pause_before_any_step_ends_with_the_offer_to_begin(conversation) -> None:
    talk = conversation
    ask_for_pause(talk, kind="self-compassion")  # a one-shot: "ask trust guide for ..."
    assert talk.said.startswith("Here's a one-minute self-compassion pause."), talk.said
    assert talk.said.endswith("Welcome back. Shall I begin with step 1, Educate Yourself?")
    assert listening(talk)
    talk.yes()
    assert_reads(talk, 1, "Educate Yourself")


def test_an_unknown_kind_asks_which_and_yes_plays_a_breathing_pause(conversation) -> None:
    talk = conversation
    talk.launch()
    talk.go_to(number="2")
    talk.intent(
        "SelfCarePauseIntent",
        kind={"value": "gardening", "resolutions": {"resolutionsPerAuthority": []}},
    )
    assert talk.said.startswith("Sorry, I don't have a pause for gardening."), talk.said
    assert talk.said.endswith("Which would you like?")
    assert listening(talk)
    talk.yes()
    assert talk.said.startswith("Here's a one-minute breathing pause."), talk.said
    assert talk.said.endswith("Shall we go on with step 3, Create a Safe Environment?")


def test_an_unknown_kind_then_no_goes_on_with_the_guide(conversation) -> None:
    talk = conversation
    talk.launch()
    talk.go_to(number="2")
    talk.intent("SelfCarePauseIntent", kind={"value": "juggling"})
    talk.no()
    assert not played_a_pause(talk)
    assert talk.said == "No problem. Shall I go on to step 3, Create a Safe Environment?"
    talk.yes()
    assert_reads(talk, 3, "Create a Safe Environment")


def test_hosted_pauses_play_the_manifests_clip_in_a_conversation(
    make_conversation, settings, tmp_path: Path, content: Content
) -> None:
    clips = {
        script.id: Clip(
            id=script.id,
            kind=script.kind,
            length_s=script.length_s,
            duration_ms=script.length_s * 1000 + 90,
            sha256="0" * 64,
            engine="gtts",
            file=f"{script.id}-v3.mp3",
        )
        for script in catalog_for(content).scripts
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(Manifest(clips).to_json()), encoding="utf-8")
    skill = build_skill(settings._replace(audio_base_url=BASE_URL, audio_manifest=str(manifest)))
    talk = make_conversation(skill)
    three_in_a_row(talk)
    talk.yes()
    sources = re.findall(r'<audio src="([^"]+)"/>', ssml(talk))
    assert sources == [f"{BASE_URL}/breathing-60-v3.mp3"], f"expected the hosted clip: {sources}"
    assert "<s>" not in ssml(talk), "cues spoken over the hosted clip"
    assert "<audio" not in talk.last["response"]["reprompt"]["outputSpeech"]["ssml"]
    talk.yes()
    assert_reads(talk, 4, "Set Clear Boundaries")
