"""The guide core: what the skill does with each thing a listener says.

Owns: what each command (skill/commands.py, in the listener's words) does, what the skill says back
(`Reply`, a list of named things said plus the question it closes with), and
`advance(progress, command, content, now) -> (Progress, Reply)`. Pure Python: no SDK types, no
I/O, no clock of its own (`now` is passed in), so every rule here is testable in milliseconds.
"""

import re
from typing import TYPE_CHECKING, NamedTuple

from skill.commands import (  # re-exported: guide.Next() reads as the listener's words
    Command,
    Fallback,
    GoTo,
    Help,
    Launch,
    ListSteps,
    Next,
    No,
    Pause,
    Previous,
    Repeat,
    SessionEnd,
    StartOver,
    Stop,
    WhereAmI,
    Yes,
)
from skill.content import Content
from skill.progress import Progress, Question

if TYPE_CHECKING:
    from skill.pauses import Catalog

# --- what the skill says: named pieces, phrased by the speech module --------------------------


class Said(NamedTuple):
    """One thing said. `kind` names it (a key in phrases.json's "said"); the fields fill it in."""

    kind: str
    step: int | None = None
    value: str | None = None


class Reply(NamedTuple):
    """Everything the skill says in one response, ending with `ask` (which sets the reprompt).

    `ask_step` is the step the question is about ("Shall I go on to step 5?"), `ask_pause` the
    pause it offers (a script id). `card_step` puts that step's text in the Alexa app. A silent
    reply says nothing (where Alexa forbids speech).
    """

    said: tuple[Said, ...]
    ask: Question = Question.NONE
    ask_step: int | None = None
    end_session: bool = False
    card_step: int | None = None
    ask_pause: str | None = None

    @property
    def silent(self) -> bool:
        return not self.said and self.end_session


SILENT = Reply(said=(), end_session=True)


# --- the rules ----------------------------------------------------------------------------------


def advance(
    progress: Progress, command: Command, content: Content, now: str
) -> tuple[Progress, Reply]:
    """Apply one command: the new progress, and what to say."""
    total = content.total
    match command:
        case Launch():
            return _launch(progress, total)
        case Next():
            return _next(progress, content, now)
        case Previous():
            if progress.step <= 1:
                said = Said("AtFirstStep") if progress.step == 1 else Said("NotStartedYet")
                return _ask_next(progress, total, said)
            return _read(progress, progress.step - 1, content, now)
        case Repeat():
            if progress.step == 0:
                return _ask_next(progress, total, Said("NotStartedYet"))
            return _read(progress, progress.step, content, now)
        case StartOver():  # a new pass from step 1; the steps heard stay heard (they are history,
            # and history merges across devices: see Progress.merged_with)
            return _read(progress, 1, content, now, Said("StartingOver"))
        case GoTo():
            return _go_to(progress, command, content, now)
        case ListSteps():
            return _asking(
                progress,
                Reply((Said("StepList"),), Question.WHICH_STEP, _next_step(progress, total)),
            )
        case WhereAmI():
            if progress.step == 0:
                return _ask_next(progress, total, Said("NotStartedYet"))
            return _ask_next(
                progress, total, Said("Location", progress.step, str(len(progress.heard)))
            )
        case Yes():
            return _yes(progress, content, now)
        case No():
            return _no(progress, content, now)
        case Help():
            return _reask(progress, content, Said("Help"))
        case Stop():
            return _goodbye(progress)
        case Fallback():
            return _reask(progress, content, Said("NotUnderstood"))
        case Pause():
            return _pause(progress, command, content)
        case SessionEnd():
            return progress.asking(Question.NONE), SILENT
    raise TypeError(f"not a guide command: {command!r}")


def _next_step(progress: Progress, total: int) -> int | None:
    """The step "next" would read, or None after the last step."""
    return progress.step + 1 if progress.step < total else None


def _asking(progress: Progress, reply: Reply) -> tuple[Progress, Reply]:
    return progress.asking(reply.ask), reply


def _ask_next(progress: Progress, total: int, *said: Said) -> tuple[Progress, Reply]:
    """Say something, then offer the step after the current one (after the last: start over)."""
    if progress.step >= total:
        return _asking(progress, Reply(said, Question.START_OVER))
    return _asking(progress, Reply(said, Question.GO_ON, progress.step + 1))


def _reask(progress: Progress, content: Content, said: Said) -> tuple[Progress, Reply]:
    """Say something and ask the pending question again, so the listener's "yes" still fits."""
    question = progress.question
    if question is Question.OFFER_PAUSE:
        return _offer_pause(progress, content, (said,))
    step = _next_step(progress, content.total)
    needs_step = question in (Question.RESUME, Question.AFTER_PAUSE)
    if question in (Question.NONE, Question.GO_ON) or (needs_step and step is None):
        return _ask_next(progress, content.total, said)  # (after the last step: start over)
    return _asking(progress, Reply((said,), question, step))


def _read(
    progress: Progress, number: int, content: Content, now: str, *before: Said
) -> tuple[Progress, Reply]:
    """Read step `number`, then offer the next one; after the last, close the guide."""
    progress = progress.heard_step(number, now)
    said = (*before, Said("StepRead", number))
    if number == content.total:  # step 8, Practice Self-Care, is a pause's natural home
        return _offer_pause(progress, content, (*said, Said("GuideClosing")), card_step=number)
    if progress.visit.in_a_row >= PAUSE_AFTER_IN_A_ROW and not progress.visit.offered:
        return _offer_pause(progress, content, said, card_step=number)
    return _asking(progress, Reply(said, Question.GO_ON, number + 1, card_step=number))


def _launch(progress: Progress, total: int) -> tuple[Progress, Reply]:
    if progress.step == 0:  # new, or a record whose place could not be kept (migrated, repaired)
        return _asking(progress, Reply((Said("Welcome"),), Question.GO_ON, 1))
    if progress.step >= total:
        return _asking(
            progress, Reply((Said("WelcomeBackFinished", progress.step),), Question.START_OVER)
        )
    return _asking(
        progress, Reply((Said("WelcomeBack", progress.step),), Question.RESUME, progress.step + 1)
    )


def _next(progress: Progress, content: Content, now: str) -> tuple[Progress, Reply]:
    if progress.step >= content.total:
        return _asking(progress, Reply((Said("GuideComplete"),), Question.START_OVER))
    return _read(progress, progress.step + 1, content, now)


def resolve_step(command: GoTo, content: Content) -> int | None:
    """The step a GoTo names, if it names one in range: by number, resolved id, or raw words."""
    if command.number is not None:
        number = _whole_number(command.number)
        return number if number is not None and 1 <= number <= content.total else None
    step = content.step_by_id(command.topic_id) if command.topic_id else None
    if step is None and command.topic:
        step = content.match_topic(command.topic)
    return step.number if step is not None else None


def _go_to(progress: Progress, command: GoTo, content: Content, now: str) -> tuple[Progress, Reply]:
    number = resolve_step(command, content)
    if number is not None:
        return _read(progress, number, content, now)
    if command.number is not None:
        caught = _whole_number(command.number) is not None
        said = Said("OutOfRange", value=command.number if caught else None)
    elif command.topic:
        said = Said("UnknownTopic", value=command.topic)
    else:
        said = Said("WhichStep")
    return _asking(
        progress, Reply((said,), Question.WHICH_STEP, _next_step(progress, content.total))
    )


def _whole_number(value: str) -> int | None:
    """AMAZON.NUMBER arrives as text: "5", "-3", or "?" when Alexa heard a number but not which."""
    try:
        return int(value.strip())
    except ValueError:
        return None


def _yes(progress: Progress, content: Content, now: str) -> tuple[Progress, Reply]:
    match progress.question:
        case Question.GO_ON | Question.RESUME | Question.WHICH_STEP:
            return _next(progress, content, now)
        case Question.START_OVER:
            return advance(progress, StartOver(), content, now)
        case Question.LIST_STEPS:
            return advance(progress, ListSteps(), content, now)
        case Question.OFFER_PAUSE:
            kind, length = _preferred_pause(progress, content)
            return _play(progress, content, kind, length)
        case Question.AFTER_PAUSE:
            return _next(progress, content, now)
        case Question.PAUSE_KIND:  # the first kind (breathing), at the length asked for
            catalog = pause_catalog(content)
            length = progress.pause_length_s
            length = length if length in catalog.lengths_s else catalog.lengths_s[0]
            return _play(progress, content, catalog.kinds[0].id, length)
    return _ask_next(progress, content.total, Said("NothingToConfirm"))


def _no(progress: Progress, content: Content, now: str) -> tuple[Progress, Reply]:
    total = content.total
    match progress.question:
        case Question.RESUME:
            return _asking(progress, Reply((Said("NoProblem"),), Question.LIST_STEPS))
        case Question.NONE:
            return _ask_next(progress, total, Said("NothingToConfirm"))
        case Question.OFFER_PAUSE:  # no pause: the guide goes on
            return _next(progress, content, now)
        case Question.PAUSE_KIND:
            return _ask_next(progress, total, Said("NoProblem"))
    return _goodbye(progress)


# --- self-care pauses ---------------------------------------------------------------------------


def pause_catalog(content: Content) -> "Catalog":
    """The pause catalog of the guide's locale. skill.pauses is imported here, on first use,
    not at the top: most requests never need it, and every Lambda cold start would pay for it."""
    from skill.pauses import catalog_for

    return catalog_for(content)


PAUSE_AFTER_IN_A_ROW = 3  # offer a pause once a session, after three steps heard in a row
_DURATION = r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"  # compiled on use


def duration_seconds(value: str) -> float | None:
    """AMAZON.DURATION (ISO 8601: "PT2M", "PT90S", "PT1H") in seconds; None if unreadable."""
    found = re.match(_DURATION, value.strip().upper())  # re caches the compiled pattern
    if not found or not any(found.groups()):
        return None
    days, hours, minutes, seconds = (float(part or 0) for part in found.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _preferred_pause(progress: Progress, content: Content) -> tuple[str, int]:
    """The pause to offer: the listener's last one, else the catalog's first kind and length."""
    catalog = pause_catalog(content)
    kinds = {kind.id for kind in catalog.kinds}
    kind = progress.pause_kind if progress.pause_kind in kinds else catalog.kinds[0].id
    length = progress.pause_length_s
    return kind, length if length in catalog.lengths_s else catalog.lengths_s[0]


def _offer_pause(
    progress: Progress, content: Content, said: tuple[Said, ...], card_step: int | None = None
) -> tuple[Progress, Reply]:
    """Offer a pause after what was said; the step asked for is never replaced, only followed.
    Any offer counts as the session's one: a listener who just said no is not asked again soon."""
    progress = progress._replace(visit=progress.visit._replace(offered=True))
    kind, length = _preferred_pause(progress, content)
    pause = pause_catalog(content).script(kind, length).id
    step = _next_step(progress, content.total)
    reply = Reply(said, Question.OFFER_PAUSE, step, card_step=card_step, ask_pause=pause)
    return _asking(progress, reply)


def _pause(progress: Progress, command: Pause, content: Content) -> tuple[Progress, Reply]:
    catalog = pause_catalog(content)
    length = catalog.lengths_s[0]  # no length: the shortest (one minute)
    seconds = duration_seconds(command.length) if command.length else None
    if seconds is not None and seconds > 0:
        length = catalog.nearest_length(seconds)
    kind = None
    if command.kind_id:
        kind = next((k for k in catalog.kinds if k.id == command.kind_id), None)
    if kind is None and command.kind:
        kind = catalog.match_kind(command.kind)
        if kind is None:  # ask which kind; "yes" then takes the length already asked for
            said = Said("UnknownPauseKind", value=command.kind)
            asking = progress._replace(pause_length_s=length)
            return _asking(asking, Reply((said,), Question.PAUSE_KIND))
    kind_id = kind.id if kind is not None else catalog.kinds[0].id  # no kind: the first (breathing)
    said: tuple[Said, ...] = ()
    if command.length and (seconds is None or seconds <= 0):
        said = (Said("PauseLengthUnclear"),)
    elif seconds is not None and length != seconds:
        said = (Said("PauseLengthAdjusted", value=catalog.script(kind_id, length).id),)
    return _play(progress, content, kind_id, length, *said)


def _play(
    progress: Progress, content: Content, kind: str, length: int, *before: Said
) -> tuple[Progress, Reply]:
    """Play a pause, then bring the listener back to their place, which is kept."""
    pause = pause_catalog(content).script(kind, length).id
    visit = progress.visit._replace(in_a_row=0)
    progress = progress._replace(pause_kind=kind, pause_length_s=length, visit=visit)
    said = (*before, Said("PauseIntro", value=pause), Said("Pause", value=pause))
    total = content.total
    if progress.step >= total:
        return _asking(progress, Reply((*said, Said("PauseDone")), Question.START_OVER))
    if progress.step == 0:
        return _asking(progress, Reply((*said, Said("PauseDone")), Question.GO_ON, 1))
    reply = Reply((*said, Said("PauseDone")), Question.AFTER_PAUSE, progress.step + 1)
    return _asking(progress, reply)


def _goodbye(progress: Progress) -> tuple[Progress, Reply]:
    kind = "GoodbyeAtStep" if progress.step else "Goodbye"
    return progress.asking(Question.NONE), Reply(
        (Said(kind, progress.step or None),), end_session=True
    )
