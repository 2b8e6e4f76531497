"""skill.speech: a Reply becomes SSML, a reprompt and a card, within Alexa's limits. No SDK."""

from __future__ import annotations

import string

import pytest
from alexa_rules import check_ssml, parse_ssml, ssml_text

from skill import guide
from skill.content import Content, load, locales
from skill.guide import Reply, Said
from skill.progress import Progress, Question
from skill.speech import (
    MAX_BREAK_MS,
    MAX_SPEECH_CHARS,
    SpeechLimitError,
    brk,
    render,
    to_text,
)

NOW = "2024-05-14T18:00:00Z"


@pytest.fixture(params=locales())
def every_locale(request: pytest.FixtureRequest) -> Content:
    return load(request.param)


def assert_renders_within_limits(reply: Reply, content: Content, what: str) -> None:
    speech = render(reply, content)
    if reply.silent:
        assert (speech.ssml, speech.reprompt, speech.card) == ("", None, None), what
        return
    check_ssml(speech.ssml, f"{what} speech")
    assert speech.end_session is reply.end_session, what
    if reply.end_session:
        assert speech.reprompt is None, f"{what}: a reprompt on a closing reply"
    else:
        assert speech.reprompt, f"{what}: the session stays open without a reprompt"
        check_ssml(speech.reprompt, f"{what} reprompt")
    assert "{" not in ssml_text(speech.ssml), f"{what}: an unfilled field in {speech.ssml!r}"


# The questions and phrase fields of the spoken guide itself (pauses have their own tests).
GUIDE_QUESTIONS = [
    Question.NONE,
    Question.GO_ON,
    Question.RESUME,
    Question.START_OVER,
    Question.LIST_STEPS,
    Question.WHICH_STEP,
]
GUIDE_FIELDS = {"step", "title", "total", "heard", "value", "list"}


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def ask_steps(question: Question, total: int) -> list[int | None]:
    """The ask_step values the guide pairs with each question."""
    if question in (Question.GO_ON, Question.RESUME):
        return list(range(1, total + 1))
    if question is Question.WHICH_STEP:
        return [None, *range(1, total + 1)]
    return [None]


# --- every reply renders within Alexa's limits ----------------------------------------------------


def test_every_phrase_for_every_step_and_question_renders_within_limits(
    every_locale: Content,
) -> None:
    content = every_locale
    for kind, template in content.phrases["said"].items():
        if not fields_of(template) <= GUIDE_FIELDS or kind.startswith("Pause"):
            continue
        names_a_step = "{step}" in template or "{title}" in template
        for step in range(1, content.total + 1) if names_a_step else [None]:
            said = Said(kind, step, "7")
            for question in GUIDE_QUESTIONS:
                for ask_step in ask_steps(question, content.total):
                    reply = Reply((said,), question, ask_step, card_step=step)
                    what = f"{kind} step={step} ask={question.name}/{ask_step}"
                    if question is Question.NONE:
                        assert_renders_within_limits(
                            reply._replace(end_session=True), content, what
                        )
                    assert_renders_within_limits(reply, content, what)


@pytest.mark.parametrize("step", range(1, 9))
def test_every_step_read_aloud_fits_with_its_offer(content: Content, step: int) -> None:
    progress, reply = guide.advance(Progress(step - 1), guide.Next(), content, NOW)
    assert_renders_within_limits(reply, content, f"step {step}")
    text = ssml_text(render(reply, content).ssml)
    assert text.startswith(f"Step {step}: {content.step(step).title}."), text[:80]
    for sentence in content.step(step).spoken:
        assert sentence in text, f"step {step} left out {sentence!r}"


def test_every_reply_the_guide_gives_renders_within_limits(every_locale: Content) -> None:
    """Every command from every place the spoken guide leaves a listener renders, so no phrase
    the guide names is missing."""
    content = every_locale
    commands = [
        guide.Launch(),
        guide.Next(),
        guide.Previous(),
        guide.Repeat(),
        guide.StartOver(),
        guide.GoTo(number="5"),
        guide.GoTo(number="42"),
        guide.GoTo(number="?"),
        guide.GoTo(topic="quantum & physics"),
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
    for step in range(0, content.total + 1):
        for question in GUIDE_QUESTIONS:
            progress = Progress(step, frozenset(range(1, step + 1)), None, question)
            for command in commands:
                _, reply = guide.advance(progress, command, content, NOW)
                what = f"{command!r} at step {step} with {question.name} pending"
                assert_renders_within_limits(reply, content, what)


def test_the_whole_step_list_fits(content: Content) -> None:
    speech = render(Reply((Said("StepList"),), Question.WHICH_STEP, 1), content)
    check_ssml(speech.ssml, "step list")
    text = ssml_text(speech.ssml)
    for step in content.steps:
        assert f"Step {step.number}: {step.title}." in text


def test_speech_over_8000_characters_is_refused(content: Content) -> None:
    long_step = content.step(1)._replace(spoken=("A sentence that goes on and on.",) * 300)
    bloated = content._replace(steps=(long_step, *content.steps[1:]))
    with pytest.raises(SpeechLimitError, match="over Alexa's 8,000"):
        render(Reply((Said("StepRead", 1),), Question.GO_ON, 2), bloated)


def test_speech_just_under_the_limit_is_allowed(content: Content) -> None:
    speech = render(Reply((Said("StepRead", 1),), Question.GO_ON, 2), content)
    room = MAX_SPEECH_CHARS - len(speech.ssml) - len("<s></s>")
    padded = content.step(1)._replace(spoken=(*content.step(1).spoken, "x" * room))
    grown = render(
        Reply((Said("StepRead", 1),), Question.GO_ON, 2),
        content._replace(steps=(padded, *content.steps[1:])),
    )
    assert len(grown.ssml) == MAX_SPEECH_CHARS


def test_a_break_is_at_most_ten_seconds() -> None:
    assert brk(MAX_BREAK_MS) == '<break time="10000ms"/>'
    assert brk(0) == '<break time="0ms"/>'
    for bad in (MAX_BREAK_MS + 1, -1):
        with pytest.raises(SpeechLimitError, match="10 s"):
            brk(bad)


# --- reprompts, cards, silence --------------------------------------------------------------------


def test_open_reply_ends_with_its_question_and_reprompts_it(content: Content) -> None:
    speech = render(Reply((Said("Welcome"),), Question.GO_ON, 1), content)
    assert ssml_text(speech.ssml).endswith("Shall I begin with step 1, Educate Yourself?")
    assert speech.reprompt is not None
    assert "step 1" in ssml_text(speech.reprompt)
    assert "repeat" not in ssml_text(speech.reprompt), "nothing has been read yet to repeat"
    assert speech.end_session is False


def test_closing_reply_has_no_question_and_no_reprompt(content: Content) -> None:
    speech = render(Reply((Said("GoodbyeAtStep", 4),), end_session=True), content)
    assert ssml_text(speech.ssml) == (
        "Okay. I'll remember that you were on step 4, Set Clear Boundaries. Goodbye for now."
    )
    assert speech.reprompt is None
    assert speech.end_session is True


def test_silent_reply_renders_nothing(content: Content) -> None:
    speech = render(guide.SILENT, content)
    assert (speech.ssml, speech.reprompt, speech.card, speech.end_session) == ("", None, None, True)


@pytest.mark.parametrize("step", range(1, 9))
def test_card_shows_the_steps_title_and_full_text(content: Content, step: int) -> None:
    card = render(Reply((Said("StepRead", step),), Question.GO_ON, 2, card_step=step), content).card
    assert card is not None
    assert card.title == f"Step {step}: {content.step(step).title}"
    assert card.text == content.step(step).card


def test_no_card_unless_a_step_was_read(content: Content) -> None:
    assert render(Reply((Said("Help"),), Question.GO_ON, 2), content).card is None


# --- escaping -------------------------------------------------------------------------------------


@pytest.fixture
def awkward(content: Content) -> Content:
    """The guide with a step whose title and text hold SSML's special characters."""
    step = content.step(4)._replace(
        title="Rules & <Limits> \"Quoted\" 'n' Things",
        spoken=("Yours & mine: a < b, and c > d.", 'Say "no" when you mean it.'),
        card="Yours & mine <b>not bold</b>",
    )
    return content._replace(steps=(*content.steps[:3], step, *content.steps[4:]))


@pytest.mark.parametrize(
    "reply",
    [
        Reply((Said("StepRead", 4),), Question.GO_ON, 5, card_step=4),
        Reply((Said("StepList"),), Question.WHICH_STEP, 4),
        Reply((Said("Location", 4, "3"),), Question.GO_ON, 5),
        Reply((Said("WelcomeBack", 3),), Question.RESUME, 4),
        Reply((Said("UnknownTopic", value='R&D <lab> "stuff"'),), Question.WHICH_STEP, 1),
        Reply((Said("GoodbyeAtStep", 4),), end_session=True),
    ],
    ids=["step", "list", "where", "resume offer", "unknown topic", "goodbye"],
)
def test_text_with_ampersands_and_angle_brackets_is_escaped(awkward: Content, reply: Reply) -> None:
    speech = render(reply, awkward)
    root = parse_ssml(speech.ssml)
    assert [e.tag for e in root.iter()].count("b") == 0, "text became markup"
    text = ssml_text(speech.ssml)
    assert ("&" in text) and ("<" in text), f"special characters lost: {text!r}"
    if speech.reprompt:
        parse_ssml(speech.reprompt, "reprompt")


def test_card_text_is_plain_not_escaped(awkward: Content) -> None:
    card = render(Reply((Said("StepRead", 4),), Question.GO_ON, 5, card_step=4), awkward).card
    assert card is not None
    assert card.title == "Step 4: Rules & <Limits> \"Quoted\" 'n' Things"
    assert card.text == "Yours & mine <b>not bold</b>"


# --- plain text, for the terminal and logs --------------------------------------------------------


def test_to_text_reads_ssml_as_a_listener_hears_it() -> None:
    ssml = (
        "<speak><p>Step 4: Rules &amp; Limits.</p><p><s>One.</s><s>a &lt; b &gt; c.</s></p> "
        '<break time="600ms"/> Shall I go on?</speak>'
    )
    assert to_text(ssml) == "Step 4: Rules & Limits. One. a < b > c. Shall I go on?"


def test_to_text_of_rendered_speech_matches_an_xml_reading(content: Content) -> None:
    for step in range(1, 9):
        ssml = render(Reply((Said("StepRead", step),), Question.GO_ON, 2), content).ssml
        assert to_text(ssml).split() == ssml_text(ssml).split()
