"""The terminal's matching of typed phrasings against the interaction model (skill/utterances.py),
and its sessions (skill/simulator.py)."""

from __future__ import annotations

import pytest

from skill.builder import build_skill
from skill.config import Settings
from skill.envelopes import Listener
from skill.simulator import Simulator, script_lines
from skill.utterances import NumberWords, load_matcher


@pytest.fixture(scope="module")
def matcher():
    return load_matcher("en-US")[0]


@pytest.fixture
def simulator(tmp_path):
    skill = build_skill(Settings(store=f"sqlite:///{tmp_path}/progress.db"))
    return Simulator(skill, Listener())


def slots(match) -> dict[str, tuple[str | None, str | None]]:
    return {s.name: (s.value, s.resolved_id) for s in match.slots if s.value is not None}


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("next", "AMAZON.NextIntent"),
        ("Next step.", "AMAZON.NextIntent"),
        ("keep going", "AMAZON.NextIntent"),
        ("go back", "AMAZON.PreviousIntent"),
        ("previous", "AMAZON.PreviousIntent"),
        ("say that again", "AMAZON.RepeatIntent"),
        ("repeat", "AMAZON.RepeatIntent"),
        ("start over", "AMAZON.StartOverIntent"),
        ("yes", "AMAZON.YesIntent"),
        ("Yeah!", "AMAZON.YesIntent"),
        ("no thanks", "AMAZON.NoIntent"),
        ("help", "AMAZON.HelpIntent"),
        ("stop", "AMAZON.StopIntent"),
        ("cancel", "AMAZON.CancelIntent"),
        ("list the steps", "ListStepsIntent"),
        ("what are the steps", "ListStepsIntent"),
        ("where am I", "WhereAmIIntent"),
        ("Which step am I on?", "WhereAmIIntent"),
    ],
)
def test_documented_phrasings_reach_their_intent(matcher, typed, intent):
    found = matcher.match(typed)
    assert found is not None, f"{typed!r} matched nothing"
    assert found.intent == intent, f"{typed!r} went to {found.intent}, expected {intent}"


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("go to step five", "5"),
        ("step three", "3"),
        ("Go to step 5", "5"),
        ("take me to step forty two", "42"),
        ("step zero", "0"),
        ("jump to step one hundred and one", "101"),
        ("go to step minus one", "-1"),
    ],
)
def test_step_numbers_are_filled_as_alexa_fills_amazon_number(matcher, typed, number):
    found = matcher.match(typed)
    assert found is not None and found.intent == "GoToStepIntent", f"{typed!r}: {found}"
    assert slots(found)["number"][0] == number


@pytest.mark.parametrize(
    ("typed", "raw", "resolved"),
    [
        ("the one about boundaries", "boundaries", "boundaries"),
        ("what's the one about empathy", "empathy", "empathy"),
        ("what is the one about empathy", "empathy", "empathy"),
        ("empathy", "empathy", "empathy"),
        ("tell me about therapy", "therapy", "professional-help"),
        ("go to the step about self care", "self care", "self-care"),
        ("the one about gardening", "gardening", None),
    ],
)
def test_topics_resolve_like_entity_resolution(matcher, typed, raw, resolved):
    found = matcher.match(typed)
    assert found is not None and found.intent == "GoToStepIntent", f"{typed!r}: {found}"
    assert slots(found)["topic"] == (raw, resolved)


def test_unknown_words_alone_match_nothing(matcher):
    assert matcher.match("purple elephants dancing") is None
    assert matcher.match("gardening") is None  # a bare {topic} only takes words the model knows


def test_number_words():
    table = load_matcher("en-US")[1]
    words = NumberWords(table)
    assert words.value("twenty one") == "21"
    assert words.value("two thousand and five") == "2005"
    assert words.value("banana") is None


def test_open_carries_a_session_and_stop_closes_it(simulator):
    turn = simulator.say("Alexa, open trust guide")
    assert turn.request_type == "LaunchRequest" and turn.session_open
    session = simulator.session_id
    assert simulator.attributes == turn.response["sessionAttributes"], "carried to the next turn"
    turn = simulator.say("next")
    assert turn.intent == "AMAZON.NextIntent" and simulator.session_id == session
    assert turn.card is not None and turn.card[0].startswith("Step 1")
    turn = simulator.say("stop")
    assert not turn.session_open and simulator.session_id is None


def test_unmatched_utterance_becomes_fallback_intent(simulator):
    simulator.say("open trust guide")
    turn = simulator.say("order me a pizza")
    assert turn.intent == "AMAZON.FallbackIntent"
    assert turn.session_open, "a fallback keeps the session open"


def test_exit_sends_session_ended_request(simulator):
    simulator.say("open trust guide")
    turn = simulator.say("exit")
    assert turn.request_type == "SessionEndedRequest"
    assert turn.speech == "" and not turn.session_open


def test_silence_reprompts_then_closes_the_session(simulator):
    simulator.say("open trust guide")
    first = simulator.say("")
    assert first.request_type is None and first.speech, "the first silence hears the reprompt"
    assert first.parts == (("say", first.speech),), "and the terminal shows it"
    second = simulator.say("")
    assert second.request_type == "SessionEndedRequest" and not simulator.session_open


def test_one_shot_opens_a_session_with_an_intent(simulator):
    turn = simulator.say("ask trust guide to go to step three")
    assert turn.request_type == "IntentRequest" and turn.intent == "GoToStepIntent"
    assert "Step 3" in turn.speech


def test_words_with_no_session_are_not_sent(simulator):
    turn = simulator.say("next")
    assert turn.request_type is None and "isn't open" in turn.note


def test_script_lines_keep_silences_and_drop_comments():
    assert script_lines(["# demo\n", "open trust guide\n", "\n", "next\n"]) == [
        "open trust guide",
        "",
        "next",
    ]
