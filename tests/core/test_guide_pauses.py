"""skill.guide's self-care pauses: the Pause command, the offers it makes at natural moments, and
"yes", "no", help and fallback while a pause question is pending. No SDK."""

from __future__ import annotations

import pytest

from skill import guide
from skill.content import Content
from skill.guide import Reply, Said, advance, duration_seconds
from skill.progress import Progress, Question, Visit

NOW = "2024-05-14T18:00:00Z"
EARLIER = "2024-05-13T09:30:00Z"
TOTAL = 8


def at(
    step: int,
    question: Question = Question.GO_ON,
    *,
    in_a_row: int = 0,
    offered: bool = False,
    pause: tuple[str | None, int | None] = (None, None),
) -> Progress:
    """A listener who last heard `step` (and every step before it), in a session where they
    have heard `in_a_row` steps in a row."""
    return Progress(
        step=step,
        heard=frozenset(range(1, step + 1)),
        last_heard_at=EARLIER if step else None,
        question=question,
        pause_kind=pause[0],
        pause_length_s=pause[1],
        visit=Visit(in_a_row, offered),
    )


def kinds(reply: Reply) -> list[str]:
    return [said.kind for said in reply.said]


def played(reply: Reply) -> str | None:
    """The script id of the pause a reply plays, if any."""
    return next((said.value for said in reply.said if said.kind == "Pause"), None)


@pytest.fixture
def run(content: Content):
    def run_(progress: Progress, command: guide.Command) -> tuple[Progress, Reply]:
        return advance(progress, command, content, NOW)

    return run_


def assert_place_kept(before: Progress, after: Progress) -> None:
    assert (after.step, after.heard, after.last_heard_at) == (
        before.step,
        before.heard,
        before.last_heard_at,
    ), f"a pause moved the listener's place from step {before.step} to {after.step}"


def assert_plays(reply: Reply, pause: str) -> None:
    assert played(reply) == pause, f"expected the {pause} pause, said {list(reply.said)}"
    names = kinds(reply)
    assert names[-3:] == ["PauseIntro", "Pause", "PauseDone"], (
        f"a pause is introduced, played and closed: {names}"
    )
    assert Said("PauseIntro", value=pause) in reply.said, "the intro names another pause"
    assert not reply.end_session, "the session should stay open after a pause"
    assert reply.ask_pause is None, "a played pause offers no pause"


# --- duration_seconds: AMAZON.DURATION values -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("PT2M", 120),
        ("PT90S", 90),
        ("PT1H", 3600),
        ("P1D", 86_400),
        ("PT1M30S", 90),
        ("PT1.5S", 1.5),
        ("pt2m", 120),
        (" PT2M ", 120),
    ],
)
def test_duration_seconds_reads_iso_8601_durations(value: str, seconds: float) -> None:
    assert duration_seconds(value) == seconds, f"{value!r} is {seconds} s"


@pytest.mark.parametrize("value", ["", "PT", "P", "banana", "?", "2M", "PTM", "PT-2M"])
def test_duration_seconds_is_none_for_an_unreadable_value(value: str) -> None:
    assert duration_seconds(value) is None, f"{value!r} is not a duration"


# --- the Pause command ------------------------------------------------------------------------


def test_a_pause_with_nothing_said_is_a_one_minute_breathing_pause(run) -> None:
    before = at(4)
    progress, reply = run(before, guide.Pause())
    assert_plays(reply, "breathing-60")
    assert kinds(reply) == ["PauseIntro", "Pause", "PauseDone"], "nothing said about the length"
    assert (progress.pause_kind, progress.pause_length_s) == ("breathing", 60)
    assert_place_kept(before, progress)


def test_a_pause_kind_matched_by_alexa_is_played(run) -> None:
    _, reply = run(at(2), guide.Pause(kind_id="stretch", kind="tight shoulders"))
    assert_plays(reply, "stretch-60")


def test_an_unknown_resolved_id_falls_back_to_the_listeners_words(run) -> None:
    _, reply = run(at(2), guide.Pause(kind_id="yoga", kind="my senses"))
    assert_plays(reply, "grounding-60")


@pytest.mark.parametrize(
    ("words", "pause"),
    [
        ("my senses", "grounding-60"),
        ("be kind to myself", "self-compassion-60"),
        ("a neck stretch please", "stretch-60"),
        ("deep breaths", "breathing-60"),
    ],
)
def test_a_pause_kind_in_the_listeners_own_words_is_played(run, words: str, pause: str) -> None:
    _, reply = run(at(2), guide.Pause(kind=words))
    assert_plays(reply, pause)


def test_an_unknown_kind_asks_which_kind_and_keeps_the_place(run) -> None:
    before = at(5)
    progress, reply = run(before, guide.Pause(kind="gardening", length="PT2M"))
    assert reply.said == (Said("UnknownPauseKind", value="gardening"),)
    assert reply.ask is Question.PAUSE_KIND, "the skill should ask which kind"
    assert progress.question is Question.PAUSE_KIND
    assert played(reply) is None, "nothing is played on a guess"
    assert not reply.end_session
    assert_place_kept(before, progress)
    assert progress.pause_kind is None, "no kind is guessed"
    assert progress.pause_length_s == 120, "the length asked for waits for the answer"


def test_yes_to_which_kind_plays_breathing_at_the_length_asked_for(run) -> None:
    progress, _ = run(at(5), guide.Pause(kind="gardening", length="PT2M"))
    progress, reply = run(progress, guide.Yes())
    assert played(reply) == "breathing-120", reply


@pytest.mark.parametrize(
    ("length", "pause", "said_first"),
    [
        (None, "breathing-60", []),
        ("PT1M", "breathing-60", []),
        ("PT2M", "breathing-120", []),
        ("PT3M", "breathing-180", []),
        ("PT180S", "breathing-180", []),
        ("PT5M", "breathing-180", [Said("PauseLengthAdjusted", value="breathing-180")]),
        ("PT1H", "breathing-180", [Said("PauseLengthAdjusted", value="breathing-180")]),
        ("P1D", "breathing-180", [Said("PauseLengthAdjusted", value="breathing-180")]),
        ("PT90S", "breathing-60", [Said("PauseLengthAdjusted", value="breathing-60")]),
        ("PT1M30S", "breathing-60", [Said("PauseLengthAdjusted", value="breathing-60")]),
        ("PT150S", "breathing-120", [Said("PauseLengthAdjusted", value="breathing-120")]),
        ("PT10S", "breathing-60", [Said("PauseLengthAdjusted", value="breathing-60")]),
        ("PTX", "breathing-60", [Said("PauseLengthUnclear")]),
        ("banana", "breathing-60", [Said("PauseLengthUnclear")]),
        ("PT0S", "breathing-60", [Said("PauseLengthUnclear")]),
    ],
)
def test_a_length_not_offered_becomes_the_nearest_said_aloud(
    run, length: str | None, pause: str, said_first: list[Said]
) -> None:
    progress, reply = run(at(3), guide.Pause(length=length))
    assert_plays(reply, pause)
    assert list(reply.said[:-3]) == said_first, (
        f"for {length!r} expected {said_first} before the pause, said {list(reply.said)}"
    )
    assert progress.pause_length_s == int(pause.rsplit("-", 1)[1])


def test_after_a_pause_mid_guide_the_listener_is_asked_to_go_on_from_their_place(run) -> None:
    before = at(5, in_a_row=2)
    progress, reply = run(before, guide.Pause(kind_id="grounding", length="PT2M"))
    assert_plays(reply, "grounding-120")
    assert (reply.ask, reply.ask_step) == (Question.AFTER_PAUSE, 6), "expected 'go on with step 6'"
    assert progress.question is Question.AFTER_PAUSE
    assert_place_kept(before, progress)
    assert progress.visit.in_a_row == 0, "a pause breaks the run of steps heard in a row"


def test_a_pause_before_any_step_offers_to_begin_with_step_one(run) -> None:
    progress, reply = run(Progress(), guide.Pause())
    assert_plays(reply, "breathing-60")
    assert (reply.ask, reply.ask_step) == (Question.GO_ON, 1), "expected 'begin with step 1'"
    assert progress.step == 0 and not progress.heard, "a pause hears no step"


def test_a_pause_after_the_last_step_offers_to_start_over(run) -> None:
    before = at(TOTAL)
    progress, reply = run(before, guide.Pause(kind_id="self-compassion"))
    assert_plays(reply, "self-compassion-60")
    assert reply.ask is Question.START_OVER
    assert_place_kept(before, progress)


def test_yes_after_a_pause_reads_the_next_step(run) -> None:
    progress, reply = run(at(3, Question.AFTER_PAUSE), guide.Yes())
    assert Said("StepRead", 4) in reply.said, f"expected step 4, said {kinds(reply)}"
    assert progress.step == 4


def test_next_after_a_pause_reads_the_next_step(run) -> None:
    progress, _ = run(at(5), guide.Pause())
    progress, reply = run(progress, guide.Next())
    assert Said("StepRead", 6) in reply.said, f"expected step 6, said {kinds(reply)}"


def test_no_after_a_pause_says_goodbye_and_keeps_the_place(run) -> None:
    before = at(3, Question.AFTER_PAUSE)
    progress, reply = run(before, guide.No())
    assert reply.end_session, "no to going on should end the session"
    assert kinds(reply) == ["GoodbyeAtStep"] and reply.said[0].step == 3
    assert_place_kept(before, progress)


# --- the offer after three steps in a row -----------------------------------------------------


def test_the_third_step_in_a_row_is_read_then_a_pause_is_offered(run) -> None:
    progress = Progress()
    replies = []
    for command in (guide.Launch(), guide.Yes(), guide.Next(), guide.Next()):
        progress, reply = run(progress, command)
        replies.append(reply)
    first, second, third = replies[1:]
    assert first.ask is Question.GO_ON and second.ask is Question.GO_ON, "offered too early"
    assert third.said == (Said("StepRead", 3),), "the step asked for is read, not replaced"
    assert third.card_step == 3
    assert (third.ask, third.ask_step, third.ask_pause) == (Question.OFFER_PAUSE, 4, "breathing-60")
    assert progress.question is Question.OFFER_PAUSE
    assert progress.visit == Visit(3, True), "the offer should be remembered for the session"


def test_yes_to_the_offer_plays_it_and_keeps_the_place(run) -> None:
    before = at(3, Question.OFFER_PAUSE, in_a_row=3, offered=True)
    progress, reply = run(before, guide.Yes())
    assert_plays(reply, "breathing-60")
    assert (reply.ask, reply.ask_step) == (Question.AFTER_PAUSE, 4)
    assert_place_kept(before, progress)
    assert progress.visit == Visit(0, True)


def test_no_to_the_offer_reads_the_next_step_without_another_offer(run) -> None:
    progress, reply = run(at(3, Question.OFFER_PAUSE, in_a_row=3, offered=True), guide.No())
    assert reply.said == (Said("StepRead", 4),)
    assert (reply.ask, reply.ask_step) == (Question.GO_ON, 5), "offered a pause twice"
    for step in (5, 6, 7):
        progress, reply = run(progress, guide.Next())
        assert reply.ask is Question.GO_ON, f"a second offer after step {step} in one session"


def test_the_offer_comes_again_in_a_new_session(run) -> None:
    progress = at(3, in_a_row=3, offered=True)._replace(visit=Visit())  # a new session
    for step in (4, 5):
        progress, reply = run(progress, guide.Next())
        assert reply.ask is Question.GO_ON, f"offered after only {step - 3} steps"
    progress, reply = run(progress, guide.Next())
    assert (reply.ask, reply.ask_step) == (Question.OFFER_PAUSE, 7)


def test_a_pause_asked_for_restarts_the_count_towards_the_offer(run) -> None:
    progress, _ = run(at(2, in_a_row=2), guide.Pause())
    for step in (3, 4):
        progress, reply = run(progress, guide.Next())
        assert reply.ask is Question.GO_ON, f"offered at step {step} right after a pause"
    progress, reply = run(progress, guide.Next())
    assert reply.ask is Question.OFFER_PAUSE, "three steps in a row after the pause: an offer"


@pytest.mark.parametrize(
    ("stored", "offered"),
    [
        (("stretch", 120), "stretch-120"),
        (("grounding", 180), "grounding-180"),
        (("stretch", 45), "stretch-60"),  # a length no longer offered: the shortest
        (("juggling", 120), "breathing-120"),  # a kind no longer offered: the first
        ((None, None), "breathing-60"),
    ],
)
def test_the_offer_suggests_the_listeners_last_pause(
    run, stored: tuple[str | None, int | None], offered: str
) -> None:
    _, reply = run(at(2, in_a_row=2, pause=stored), guide.Next())
    assert reply.ask_pause == offered, f"after {stored}, offered {reply.ask_pause}"


def test_a_pause_is_remembered_for_the_next_offer(run) -> None:
    progress, _ = run(at(1), guide.Pause(kind_id="stretch", length="PT2M"))
    progress, reply = run(progress._replace(visit=Visit(2)), guide.Next())
    assert reply.ask_pause == "stretch-120"
    _, reply = run(progress._replace(visit=Visit(0, True)), guide.GoTo(number="8"))
    assert reply.ask_pause == "stretch-120", "the closing offer should suggest the last pause too"


# --- after step 8 -----------------------------------------------------------------------------


def test_step_eight_closes_the_guide_and_offers_a_pause_before_you_go(run) -> None:
    progress, reply = run(at(7), guide.Next())
    assert reply.said == (Said("StepRead", 8), Said("GuideClosing"))
    assert (reply.ask, reply.ask_step, reply.ask_pause) == (
        Question.OFFER_PAUSE,
        None,
        "breathing-60",
    )
    assert reply.card_step == 8
    assert progress.question is Question.OFFER_PAUSE


def test_step_eight_offers_a_pause_even_after_the_session_offer(run) -> None:
    _, reply = run(at(7, in_a_row=5, offered=True), guide.Next())
    assert reply.ask is Question.OFFER_PAUSE, "step 8 is the pause's natural home"


def test_yes_to_the_closing_offer_plays_it_then_offers_to_start_over(run) -> None:
    before = at(TOTAL, Question.OFFER_PAUSE)
    progress, reply = run(before, guide.Yes())
    assert_plays(reply, "breathing-60")
    assert reply.ask is Question.START_OVER
    assert_place_kept(before, progress)


def test_no_to_the_closing_offer_completes_the_guide(run) -> None:
    progress, reply = run(at(TOTAL, Question.OFFER_PAUSE), guide.No())
    assert reply.said == (Said("GuideComplete"),)
    assert reply.ask is Question.START_OVER
    assert not reply.end_session


# --- help, fallback, yes and no while a pause question is pending -----------------------------


@pytest.mark.parametrize("command", [guide.Help(), guide.Fallback()], ids=["help", "fallback"])
@pytest.mark.parametrize("step", [3, TOTAL])
def test_help_and_fallback_reask_the_pause_offer(run, command, step: int) -> None:
    before = at(step, Question.OFFER_PAUSE, in_a_row=3, offered=True, pause=("grounding", 120))
    progress, reply = run(before, command)
    expected_step = None if step == TOTAL else step + 1
    assert (reply.ask, reply.ask_step, reply.ask_pause) == (
        Question.OFFER_PAUSE,
        expected_step,
        "grounding-120",
    ), f"the same offer should be asked again, got {reply}"
    assert progress.question is Question.OFFER_PAUSE
    _, reply = run(progress, guide.Yes())
    assert played(reply) == "grounding-120", "yes after the re-ask should play the offer"


@pytest.mark.parametrize("command", [guide.Help(), guide.Fallback()], ids=["help", "fallback"])
def test_help_and_fallback_reask_whether_to_go_on_after_a_pause(run, command) -> None:
    progress, reply = run(at(3, Question.AFTER_PAUSE), command)
    assert (reply.ask, reply.ask_step) == (Question.AFTER_PAUSE, 4)
    assert progress.question is Question.AFTER_PAUSE
    _, reply = run(progress, guide.Yes())
    assert Said("StepRead", 4) in reply.said


@pytest.mark.parametrize("command", [guide.Help(), guide.Fallback(), guide.Yes(), guide.No()])
def test_after_a_pause_at_the_last_step_no_answer_asks_for_a_step_past_the_end(
    run, command
) -> None:
    """AFTER_PAUSE stored at step 8 (another device moved on meanwhile) must not ask about a
    ninth step."""
    _, reply = run(at(TOTAL, Question.AFTER_PAUSE), command)
    assert reply.ask_step is None or 1 <= reply.ask_step <= TOTAL, f"asks about {reply.ask_step}"


@pytest.mark.parametrize("command", [guide.Help(), guide.Fallback()], ids=["help", "fallback"])
def test_help_and_fallback_reask_which_kind(run, command) -> None:
    progress, reply = run(at(2, Question.PAUSE_KIND), command)
    assert reply.ask is Question.PAUSE_KIND
    assert progress.question is Question.PAUSE_KIND


def test_yes_to_which_kind_plays_a_one_minute_breathing_pause(run) -> None:
    before = at(2, Question.PAUSE_KIND)
    progress, reply = run(before, guide.Yes())
    assert_plays(reply, "breathing-60")
    assert (reply.ask, reply.ask_step) == (Question.AFTER_PAUSE, 3)
    assert_place_kept(before, progress)


def test_no_to_which_kind_goes_on_with_the_guide(run) -> None:
    before = at(2, Question.PAUSE_KIND)
    progress, reply = run(before, guide.No())
    assert kinds(reply) == ["NoProblem"]
    assert (reply.ask, reply.ask_step) == (Question.GO_ON, 3)
    assert_place_kept(before, progress)


def test_naming_a_kind_after_which_kind_plays_it(run) -> None:
    _, reply = run(at(2, Question.PAUSE_KIND), guide.Pause(kind="grounding"))
    assert_plays(reply, "grounding-60")
