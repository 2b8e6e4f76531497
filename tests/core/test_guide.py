"""skill.guide: every command's rules, as (Progress, command) -> (Progress, Reply). No SDK."""

from __future__ import annotations

import pytest

from skill import guide
from skill.content import Content
from skill.guide import Reply, Said, advance
from skill.progress import Progress, Question

NOW = "2024-05-14T18:00:00Z"
EARLIER = "2024-05-13T09:30:00Z"
TOTAL = 8


def at(step: int, question: Question = Question.GO_ON, heard: set[int] | None = None) -> Progress:
    """A listener who last heard `step` (and every step before it, unless `heard` says)."""
    heard = set(range(1, step + 1)) if heard is None else heard
    return Progress(step, frozenset(heard), EARLIER if step else None, question)


def kinds(reply: Reply) -> list[str]:
    return [said.kind for said in reply.said]


@pytest.fixture
def run(content: Content):
    def run_(progress: Progress, command: guide.Command) -> tuple[Progress, Reply]:
        return advance(progress, command, content, NOW)

    return run_


def assert_read(progress: Progress, reply: Reply, step: int) -> None:
    """The reply reads `step` aloud and the progress records it as heard now."""
    assert Said("StepRead", step) in reply.said, f"expected step {step} read, said {kinds(reply)}"
    assert progress.step == step, f"progress is at step {progress.step}, not {step}"
    assert step in progress.heard
    assert progress.last_heard_at == NOW
    assert reply.card_step == step, "the card shows the step just read"
    assert not reply.end_session


def assert_place_kept(before: Progress, after: Progress) -> None:
    assert (after.step, after.heard, after.last_heard_at) == (
        before.step,
        before.heard,
        before.last_heard_at,
    ), f"place changed from {before} to {after}"


# --- launch and resume ------------------------------------------------------------------------


def test_launch_welcomes_a_new_listener_and_offers_step_one(run) -> None:
    progress, reply = run(Progress(), guide.Launch())
    assert kinds(reply) == ["Welcome"]
    assert (reply.ask, reply.ask_step) == (Question.GO_ON, 1)
    assert not reply.end_session
    assert progress.step == 0 and not progress.heard


@pytest.mark.parametrize("step", range(1, TOTAL))
def test_launch_welcomes_back_and_offers_the_step_after_the_last_heard(run, step: int) -> None:
    progress, reply = run(at(step, Question.NONE), guide.Launch())
    assert reply.said == (Said("WelcomeBack", step),)
    assert (reply.ask, reply.ask_step) == (Question.RESUME, step + 1)
    assert progress.question is Question.RESUME
    assert_place_kept(at(step), progress)


def test_launch_after_the_last_step_offers_to_start_over(run) -> None:
    progress, reply = run(at(TOTAL, Question.NONE), guide.Launch())
    assert reply.said == (Said("WelcomeBackFinished", TOTAL),)
    assert reply.ask is Question.START_OVER


def test_yes_to_resume_reads_the_step_after_the_last_heard(run) -> None:
    progress, _ = run(at(4, Question.NONE), guide.Launch())
    progress, reply = run(progress, guide.Yes())
    assert_read(progress, reply, 5)


def test_next_after_resume_offer_also_continues(run) -> None:
    progress, _ = run(at(4, Question.NONE), guide.Launch())
    progress, reply = run(progress, guide.Next())
    assert_read(progress, reply, 5)


def test_no_to_resume_offers_the_list_or_a_fresh_start(run) -> None:
    progress, reply = run(at(4, Question.RESUME), guide.No())
    assert kinds(reply) == ["NoProblem"]
    assert reply.ask is Question.LIST_STEPS
    assert not reply.end_session
    assert_place_kept(at(4), progress)


def test_resume_uses_the_current_step_not_the_highest_heard(run) -> None:
    """Heard 1 to 6, then went back to 3: resuming goes on with 4."""
    progress, reply = run(at(3, Question.NONE, heard={1, 2, 3, 4, 5, 6}), guide.Launch())
    assert (reply.ask, reply.ask_step) == (Question.RESUME, 4)


# --- next, previous, repeat, start over ---------------------------------------------------------


@pytest.mark.parametrize("step", range(0, TOTAL - 1))
def test_next_reads_the_following_step_and_offers_the_one_after(run, step: int) -> None:
    progress, reply = run(at(step), guide.Next())
    assert_read(progress, reply, step + 1)
    assert (reply.ask, reply.ask_step) == (Question.GO_ON, step + 2)
    assert progress.heard == frozenset(range(1, step + 2))


def test_reading_the_last_step_closes_the_guide_and_offers_no_next_step(run) -> None:
    progress, reply = run(at(TOTAL - 1), guide.Next())
    assert_read(progress, reply, TOTAL)
    assert kinds(reply)[:2] == ["StepRead", "GuideClosing"]
    assert reply.ask is not Question.GO_ON and reply.ask_step is None, "there is no step 9"


def test_next_after_the_last_step_says_the_guide_is_complete(run) -> None:
    before = at(TOTAL, Question.START_OVER)
    progress, reply = run(before, guide.Next())
    assert kinds(reply) == ["GuideComplete"]
    assert reply.ask is Question.START_OVER
    assert not reply.end_session
    assert_place_kept(before, progress)


def test_yes_after_complete_starts_over_at_step_one(run) -> None:
    progress, _ = run(at(TOTAL), guide.Next())
    progress, reply = run(progress, guide.Yes())
    assert kinds(reply) == ["StartingOver", "StepRead"]
    assert_read(progress, reply, 1)
    assert progress.step == 1 and progress.heard == at(TOTAL).heard, "a new pass; history kept"


@pytest.mark.parametrize("step", range(2, TOTAL + 1))
def test_previous_reads_the_step_before(run, step: int) -> None:
    progress, reply = run(at(step), guide.Previous())
    assert_read(progress, reply, step - 1)


def test_previous_at_step_one_stays_and_says_so(run) -> None:
    before = at(1)
    progress, reply = run(before, guide.Previous())
    assert kinds(reply) == ["AtFirstStep"]
    assert (reply.ask, reply.ask_step) == (Question.GO_ON, 2)
    assert_place_kept(before, progress)


@pytest.mark.parametrize("command", [guide.Previous(), guide.Repeat(), guide.WhereAmI()])
def test_commands_about_the_current_step_before_any_step_say_not_started(
    run, command: guide.Command
) -> None:
    progress, reply = run(Progress(), command)
    assert kinds(reply) == ["NotStartedYet"]
    assert (reply.ask, reply.ask_step) == (Question.GO_ON, 1)
    assert progress.step == 0


@pytest.mark.parametrize("step", range(1, TOTAL + 1))
def test_repeat_rereads_current_step(run, step: int) -> None:
    progress, reply = run(at(step), guide.Repeat())
    assert_read(progress, reply, step)
    assert progress.heard == at(step).heard


def test_start_over_reads_step_one_and_keeps_the_steps_heard(run) -> None:
    progress, reply = run(at(6), guide.StartOver())
    assert kinds(reply) == ["StartingOver", "StepRead"]
    assert_read(progress, reply, 1)
    assert progress.heard == at(6).heard | {1}, "steps heard are history, merged across devices"


# --- go to a step -------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1", "5", "8", " 5 ", "05"])
def test_go_to_by_number_reads_that_step(run, number: str) -> None:
    progress, reply = run(at(2), guide.GoTo(number=number))
    assert_read(progress, reply, int(number))


def test_go_to_by_resolved_topic_id_reads_that_step(run) -> None:
    progress, reply = run(at(0), guide.GoTo(topic_id="boundaries", topic="boundaries"))
    assert_read(progress, reply, 4)


@pytest.mark.parametrize(
    ("words", "step"),
    [("the one about boundaries", 4), ("empathy", 6), ("self care", 8), ("therapy", 7)],
)
def test_go_to_by_raw_words_matches_the_topic_itself(run, words: str, step: int) -> None:
    """ER_SUCCESS_NO_MATCH: Alexa sends only the words; the skill matches them."""
    progress, reply = run(at(1), guide.GoTo(topic=words))
    assert_read(progress, reply, step)


def test_go_to_an_unknown_resolved_id_falls_back_to_the_words(run) -> None:
    progress, reply = run(at(1), guide.GoTo(topic_id="retired-id", topic="empathy"))
    assert_read(progress, reply, 6)


@pytest.mark.parametrize("number", ["42", "0", "-1", "9"])
def test_go_to_out_of_range_names_the_range_and_keeps_the_place(run, number: str) -> None:
    before = at(3)
    progress, reply = run(before, guide.GoTo(number=number))
    assert reply.said == (Said("OutOfRange", value=number),)
    assert (reply.ask, reply.ask_step) == (Question.WHICH_STEP, 4)
    assert not reply.end_session
    assert reply.card_step is None
    assert_place_kept(before, progress)


@pytest.mark.parametrize("number", ["?", "", "five", "2.5"])
def test_go_to_a_number_alexa_did_not_catch_says_so(run, number: str) -> None:
    before = at(3)
    progress, reply = run(before, guide.GoTo(number=number))
    assert reply.said == (Said("OutOfRange", value=None),), "an uncaught number has no value"
    assert reply.ask is Question.WHICH_STEP
    assert_place_kept(before, progress)


def test_go_to_an_unknown_topic_says_what_was_not_found(run) -> None:
    before = at(2)
    progress, reply = run(before, guide.GoTo(topic="quantum physics"))
    assert reply.said == (Said("UnknownTopic", value="quantum physics"),)
    assert reply.ask is Question.WHICH_STEP
    assert_place_kept(before, progress)


def test_go_to_with_no_value_asks_which_step(run) -> None:
    progress, reply = run(at(2), guide.GoTo())
    assert kinds(reply) == ["WhichStep"]
    assert (reply.ask, reply.ask_step) == (Question.WHICH_STEP, 3)


def test_which_step_at_the_end_offers_no_next_step(run) -> None:
    _, reply = run(at(TOTAL), guide.GoTo(number="42"))
    assert (reply.ask, reply.ask_step) == (Question.WHICH_STEP, None)


def test_resolve_step_prefers_the_number_then_the_id_then_the_words(content: Content) -> None:
    assert guide.resolve_step(guide.GoTo(number="2", topic_id="empathy"), content) == 2
    assert guide.resolve_step(guide.GoTo(topic_id="safety", topic="empathy"), content) == 3
    assert guide.resolve_step(guide.GoTo(topic="empathy"), content) == 6
    assert guide.resolve_step(guide.GoTo(number="42", topic="empathy"), content) is None


# --- yes and no after each question -------------------------------------------------------------


def test_yes_after_go_on_reads_the_offered_step(run) -> None:
    progress, reply = run(at(2, Question.GO_ON), guide.Yes())
    assert_read(progress, reply, 3)


def test_yes_after_which_step_reads_the_next_step(run) -> None:
    progress, reply = run(at(2, Question.WHICH_STEP), guide.Yes())
    assert_read(progress, reply, 3)


def test_yes_after_start_over_offer_reads_step_one(run) -> None:
    progress, reply = run(at(TOTAL, Question.START_OVER), guide.Yes())
    assert_read(progress, reply, 1)


def test_yes_after_list_offer_lists_the_steps(run) -> None:
    progress, reply = run(at(4, Question.LIST_STEPS), guide.Yes())
    assert kinds(reply) == ["StepList"]
    assert reply.ask is Question.WHICH_STEP
    assert_place_kept(at(4), progress)


def test_yes_with_nothing_asked_says_so_and_offers_to_go_on(run) -> None:
    progress, reply = run(at(2, Question.NONE), guide.Yes())
    assert kinds(reply) == ["NothingToConfirm"]
    assert (reply.ask, reply.ask_step) == (Question.GO_ON, 3)
    assert_place_kept(at(2), progress)


@pytest.mark.parametrize(
    "question", [Question.GO_ON, Question.START_OVER, Question.LIST_STEPS, Question.WHICH_STEP]
)
def test_no_to_an_offer_says_goodbye_and_remembers_the_place(run, question: Question) -> None:
    before = at(5, question)
    progress, reply = run(before, guide.No())
    assert reply.said == (Said("GoodbyeAtStep", 5),)
    assert reply.end_session
    assert progress.question is Question.NONE
    assert_place_kept(before, progress)


def test_no_with_nothing_asked_keeps_the_session(run) -> None:
    _, reply = run(at(2, Question.NONE), guide.No())
    assert kinds(reply) == ["NothingToConfirm"]
    assert not reply.end_session


# --- where am I, list, help, stop, fallback, session end -----------------------------------------


def test_where_am_i_names_the_step_and_how_many_were_heard(run) -> None:
    before = at(3, heard={1, 3})
    progress, reply = run(before, guide.WhereAmI())
    assert reply.said == (Said("Location", 3, "2"),)
    assert (reply.ask, reply.ask_step) == (Question.GO_ON, 4)
    assert_place_kept(before, progress)


def test_where_am_i_at_the_last_step_offers_to_start_over(run) -> None:
    _, reply = run(at(TOTAL), guide.WhereAmI())
    assert reply.said == (Said("Location", TOTAL, str(TOTAL)),)
    assert reply.ask is Question.START_OVER


def test_list_steps_lists_and_asks_which_keeping_the_place(run) -> None:
    before = at(2)
    progress, reply = run(before, guide.ListSteps())
    assert kinds(reply) == ["StepList"]
    assert (reply.ask, reply.ask_step) == (Question.WHICH_STEP, 3)
    assert_place_kept(before, progress)


def test_help_explains_and_keeps_the_place(run) -> None:
    before = at(4)
    progress, reply = run(before, guide.Help())
    assert kinds(reply) == ["Help"]
    assert not reply.end_session
    assert_place_kept(before, progress)


@pytest.mark.parametrize(("step", "said"), [(0, Said("Goodbye")), (6, Said("GoodbyeAtStep", 6))])
def test_stop_says_goodbye_ends_the_session_and_keeps_the_place(run, step: int, said: Said) -> None:
    before = at(step, Question.RESUME)
    progress, reply = run(before, guide.Stop())
    assert reply.said == (said,)
    assert reply.end_session
    assert progress.question is Question.NONE, "a question asked before stop is void"
    assert_place_kept(before, progress)


def _answers(run, progress: Progress) -> list[tuple[list[str], int, bool]]:
    """What "yes" and "no" would do from here: the words, the step after, whether it ends."""
    out = []
    for answer in (guide.Yes(), guide.No()):
        after, reply = run(progress, answer)
        out.append((kinds(reply), after.step, reply.end_session))
    return out


@pytest.mark.parametrize("question", list(Question))
def test_fallback_says_so_and_reasks_the_pending_question(run, question: Question) -> None:
    before = at(4, question)
    progress, reply = run(before, guide.Fallback())
    assert reply.said[0] == Said("NotUnderstood")
    assert not reply.end_session
    assert_place_kept(before, progress)
    if question is not Question.NONE:
        assert reply.ask is question, f"pending {question.name}, re-asked {reply.ask.name}"
    assert _answers(run, progress) == _answers(run, before) or question is Question.NONE, (
        "after a fallback, yes and no must mean what they meant before"
    )


@pytest.mark.parametrize("question", [q for q in Question if q is not Question.NONE])
def test_help_keeps_the_pending_question(run, question: Question) -> None:
    step = TOTAL if question is Question.START_OVER else 4
    before = at(step, question)
    progress, reply = run(before, guide.Help())
    assert _answers(run, progress) == _answers(run, before), (
        f"after help, yes and no no longer answer the pending {question.name}"
    )


def test_help_with_nothing_pending_offers_the_next_step(run) -> None:
    _, reply = run(at(4, Question.NONE), guide.Help())
    assert (reply.ask, reply.ask_step) == (Question.GO_ON, 5)


def test_session_end_is_silent_and_keeps_the_place(run) -> None:
    before = at(5, Question.RESUME)
    progress, reply = run(before, guide.SessionEnd())
    assert reply is guide.SILENT
    assert reply.silent and reply.said == ()
    assert progress.question is Question.NONE
    assert_place_kept(before, progress)


def test_advance_rejects_what_is_not_a_command(run) -> None:
    with pytest.raises(TypeError, match="not a guide command"):
        run(Progress(), "next")


# --- rules that hold for every command from every place -------------------------------------------

COMMANDS = [
    guide.Launch(),
    guide.Next(),
    guide.Previous(),
    guide.Repeat(),
    guide.StartOver(),
    guide.GoTo(number="5"),
    guide.GoTo(number="42"),
    guide.GoTo(number="?"),
    guide.GoTo(topic_id="empathy", topic="empathy"),
    guide.GoTo(topic="the one about boundaries"),
    guide.GoTo(topic="quantum physics"),
    guide.GoTo(),
    guide.ListSteps(),
    guide.WhereAmI(),
    guide.Yes(),
    guide.No(),
    guide.Help(),
    guide.Stop(),
    guide.Fallback(),
    guide.SessionEnd(),
]

STATES = [
    pytest.param(step, question, id=f"step{step}-{question.name}")
    for step in range(0, TOTAL + 1)
    for question in Question
]


@pytest.mark.parametrize(("step", "question"), STATES)
def test_every_offer_is_what_yes_or_next_then_does(run, step: int, question: Question) -> None:
    """From any stored place, every command's reply keeps the session's promises: an open
    session always ends in a question, the stored question is the one asked, and the step an
    offer names is the step "yes" (or "next", after "which step?") then reads."""
    problems = []
    for command in COMMANDS:
        progress, reply = run(at(step, question), command)
        where = f"{type(command).__name__}{command if isinstance(command, guide.GoTo) else ''}"
        if reply.silent:
            continue
        if reply.end_session:
            if reply.ask is not Question.NONE:
                problems.append(f"{where}: ends the session but asks {reply.ask.name}")
            continue
        if reply.ask is Question.NONE:
            problems.append(f"{where}: keeps the session open without a question")
        if progress.question is not reply.ask:
            problems.append(f"{where}: asked {reply.ask.name}, stored {progress.question.name}")
        if reply.ask in (Question.GO_ON, Question.RESUME):
            after, _ = run(progress, guide.Yes())
            if reply.ask_step is None or after.step != reply.ask_step:
                problems.append(f"{where}: offered {reply.ask_step}, yes read {after.step}")
        if reply.ask is Question.WHICH_STEP and reply.ask_step is not None:
            after, _ = run(progress, guide.Next())
            if after.step != reply.ask_step:
                problems.append(f"{where}: offered next {reply.ask_step}, next read {after.step}")
        if reply.ask is Question.START_OVER:
            after, _ = run(progress, guide.Yes())
            if after.step != 1:
                problems.append(f"{where}: offered to start over, yes read {after.step}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "command",
    [
        guide.Launch(),
        guide.GoTo(number="42"),
        guide.GoTo(topic="quantum physics"),
        guide.ListSteps(),
        guide.WhereAmI(),
        guide.Help(),
        guide.Stop(),
        guide.Fallback(),
        guide.SessionEnd(),
        guide.No(),
    ],
    ids=lambda c: type(c).__name__,
)
def test_commands_that_read_nothing_never_move_the_place(run, command: guide.Command) -> None:
    for step in range(0, TOTAL + 1):
        before = at(step, Question.GO_ON)
        progress, _ = run(before, command)
        assert_place_kept(before, progress)
