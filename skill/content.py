"""The guide's content: its eight steps and the phrases the skill speaks, loaded from data files.

Owns: reading `skill/data/<locale>/*.json` once, validating it, and answering content questions
(which step is "the one about boundaries"?). Standard library only: no ask_sdk, no I/O beyond the
data files. Content is data, never Python constants, so a new locale is a new folder.
"""

import json
import string
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_LOCALE = "en-US"


class ContentError(ValueError):
    """A data file is missing, malformed or inconsistent; raised at load time, never mid-request."""


class Step(NamedTuple):
    number: int
    id: str
    title: str
    topics: tuple[str, ...]
    spoken: tuple[str, ...]
    card: str


class Content(NamedTuple):
    """One locale's guide: the steps in order, the guide's framing text and the phrase book."""

    locale: str
    title: str
    intro: str
    closing: str
    steps: tuple[Step, ...]
    phrases: dict[str, Any]
    filler: frozenset[str]  # words that never tell steps apart ("the", "one", "about")
    data_dir: Path = DATA_DIR

    @property
    def total(self) -> int:
        return len(self.steps)

    def step(self, number: int) -> Step:
        """The step with this 1-based number (the caller checks the range)."""
        return self.steps[number - 1]

    def step_by_id(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def match_topic(self, raw: str) -> Step | None:
        """Find the step a listener named in their own words ("the one about boundaries").

        Alexa sends the raw slot value when entity resolution found no match, so we match it
        ourselves: an exact title, id or topic first, then the step whose topics share the most
        words with what was said.
        """
        said = normalise(raw)
        if not said:
            return None
        for step in self.steps:
            names = {normalise(step.title), normalise(step.id), *map(normalise, step.topics)}
            if said in names:
                return step
        words = set(said.split()) - self.filler
        best: tuple[int, Step] | None = None
        for step in self.steps:
            vocabulary = set(normalise(" ".join((step.title, *step.topics))).split()) - self.filler
            score = len(words & vocabulary)
            if score and (best is None or score > best[0]):
                best = (score, step)
        return best[1] if best else None


_PUNCTUATION = str.maketrans("-", " ", string.punctuation.replace("-", ""))  # "'" dropped too


def normalise(text: str) -> str:
    """Lower-case, hyphens to spaces, punctuation dropped, spaces folded: how we compare words."""
    return " ".join(text.lower().translate(_PUNCTUATION).split())


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ContentError(f"{path}: missing") from exc
    except json.JSONDecodeError as exc:
        raise ContentError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected a JSON object")
    return data


def require_text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ContentError(f"{where}: expected non-empty text")
    return value.strip()


def require_texts(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ContentError(f"{where}: expected a non-empty list of text")
    return tuple(require_text(item, f"{where}[{i}]") for i, item in enumerate(value))


def _parse_steps(raw: Any, where: str) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not raw:
        raise ContentError(f"{where}: expected a non-empty list of steps")
    steps = []
    for index, item in enumerate(raw, start=1):
        at = f"{where}[{index - 1}]"
        if not isinstance(item, dict):
            raise ContentError(f"{at}: expected an object")
        if item.get("number") != index:
            raise ContentError(
                f"{at}: steps must be numbered 1, 2, 3… in order; got {item.get('number')!r}"
            )
        steps.append(
            Step(
                number=index,
                id=require_text(item.get("id"), f"{at}.id"),
                title=require_text(item.get("title"), f"{at}.title"),
                topics=require_texts(item.get("topics"), f"{at}.topics"),
                spoken=require_texts(item.get("spoken"), f"{at}.spoken"),
                card=require_text(item.get("card"), f"{at}.card"),
            )
        )
    _check_unique(steps, where)
    return tuple(steps)


def _check_unique(steps: list[Step], where: str) -> None:
    """Ids, titles and topics name one step each, or "the one about X" would be a coin toss."""
    owner: dict[str, int] = {}
    for step in steps:
        for name in {step.id, step.title, *step.topics}:
            key = normalise(name)
            if owner.setdefault(key, step.number) != step.number:
                raise ContentError(
                    f"{where}: {name!r} names both step {owner[key]} and {step.number}"
                )


def _check_phrases(phrases: dict[str, Any], where: str) -> None:
    """Every phrase must be text (or a list of text) whose {fields} the speech module can fill."""
    known = {
        "step",
        "title",
        "total",
        "heard",
        "value",
        "list",
        "length",
        "pause",
        "kinds",
        "guide",
    }
    for group, entries in phrases.items():
        if not isinstance(entries, dict):
            raise ContentError(f"{where}.{group}: expected an object")
        for key, value in entries.items():
            texts = value if isinstance(value, list) else [value]
            if isinstance(value, dict):
                texts = list(value.values())
            for text in texts:
                require_text(text, f"{where}.{group}.{key}")
                fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
                if fields - known:
                    raise ContentError(
                        f"{where}.{group}.{key}: unknown fields {sorted(fields - known)}"
                    )


@cache
def load(locale: str = DEFAULT_LOCALE, data_dir: Path = DATA_DIR) -> Content:
    """Load and validate one locale's content; cached, so it is read once per process."""
    folder = data_dir / locale
    guide = read_json(folder / "steps.json")
    phrases = read_json(folder / "phrases.json")
    meta = guide.get("guide")
    if not isinstance(meta, dict):
        raise ContentError(f"{folder / 'steps.json'}: missing 'guide' object")
    _check_phrases(phrases, str(folder / "phrases.json"))
    filler = require_texts(meta.get("filler_words"), "guide.filler_words")
    return Content(
        locale=locale,
        title=require_text(meta.get("title"), "guide.title"),
        intro=require_text(meta.get("intro"), "guide.intro"),
        closing=require_text(meta.get("closing"), "guide.closing"),
        steps=_parse_steps(guide.get("steps"), str(folder / "steps.json")),
        phrases=phrases,
        data_dir=data_dir,
        filler=frozenset(normalise(" ".join(filler)).split()),
    )


@cache
def apl_document(name: str, data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """An APL document for screens (skill/data/apl/<name>.json), read once."""
    document = read_json(data_dir / "apl" / f"{name}.json")
    if document.get("type") != "APL" or "mainTemplate" not in document:
        raise ContentError(f"{data_dir / 'apl' / name}.json: not an APL document")
    return document


def locales(data_dir: Path = DATA_DIR) -> list[str]:
    """Every locale that has content on disk (tests run over all of them)."""
    return sorted(p.name for p in data_dir.iterdir() if (p / "steps.json").is_file())
