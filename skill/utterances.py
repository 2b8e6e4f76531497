"""What a person typed, matched the way Alexa's NLU fills an intent: the interaction model's own
sample utterances with their slots (AMAZON.NUMBER and AMAZON.DURATION filled as Alexa fills them,
custom types resolved like entity resolution), plus common phrasings of the built-in intents from
`data/<locale>/simulator.json`. Used by the terminal simulator; standard library only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skill import envelopes
from skill.content import DATA_DIR, normalise

MODEL_DIR = Path(__file__).resolve().parent.parent / "interaction_model"
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Match:
    intent: str
    slots: tuple[envelopes.Slot, ...] = ()


@dataclass(frozen=True)
class _Pattern:
    intent: str
    regex: re.Pattern[str]
    slot_types: dict[str, str]
    literal: int  # characters of the sample outside its slots (see UtteranceMatcher.match)


class NumberWords:
    """AMAZON.NUMBER as Alexa fills it: spoken number words or digits -> "42"."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.units: dict[str, int] = table["numbers"]
        self.scales: dict[str, int] = table["number_scales"]
        self.joiners = set(table["number_joiners"])
        self.negative = set(table["number_negative"])
        words = sorted({*self.units, *self.scales, *self.joiners, *self.negative}, key=len)
        word = "|".join(map(re.escape, reversed(words)))
        self.pattern = rf"(?:-?\d+|(?:{word})(?:\s+(?:{word}))*)"

    def value(self, text: str) -> str | None:
        text = text.strip()
        if re.fullmatch(r"-?\d+", text):
            return str(int(text))
        sign, total, current, seen = 1, 0, 0, False
        for token in text.split():
            if token in self.negative and not seen:
                sign = -1
            elif token in self.units:
                current += self.units[token]
                seen = True
            elif token in self.scales:
                current = max(current, 1) * self.scales[token]
                if self.scales[token] >= 1000:
                    total, current = total + current, 0
                seen = True
            elif token not in self.joiners:
                return None
        return str(sign * (total + current)) if seen else None


class DurationWords:
    """AMAZON.DURATION as Alexa fills it: "two minutes" -> "PT2M", "ninety seconds" -> "PT90S"."""

    def __init__(self, table: dict[str, Any], numbers: NumberWords) -> None:
        self.units: dict[str, str] = table["duration_units"]
        self.one = set(table["duration_one"])
        self.numbers = numbers
        unit = "|".join(map(re.escape, sorted(self.units, key=len, reverse=True)))
        one = "|".join(map(re.escape, self.one))
        self.pattern = rf"(?:(?:{one})|{numbers.pattern})\s+(?:{unit})"

    def value(self, text: str) -> str | None:
        *count, unit = text.split()
        amount = "1" if " ".join(count) in self.one else self.numbers.value(" ".join(count))
        if amount is None or unit not in self.units:
            return None
        return f"PT{amount}{self.units[unit]}"


class UtteranceMatcher:
    """Matches typed text against one locale's interaction model."""

    def __init__(self, model: dict[str, Any], phrasings: dict[str, Any]) -> None:
        language = model["interactionModel"]["languageModel"]
        self.invocation = normalise(language["invocationName"])
        self.numbers = NumberWords(phrasings)
        self.durations = DurationWords(phrasings, self.numbers)
        self.contractions = {
            normalise(short): normalise(long) for short, long in phrasings["contractions"].items()
        }
        self.types = self._types(language.get("types", []))
        self.patterns: list[_Pattern] = []
        for intent in language["intents"]:
            slot_types = {s["name"]: s["type"] for s in intent.get("slots", [])}
            samples = [*intent.get("samples", []), *phrasings["builtin"].get(intent["name"], [])]
            for sample in samples:
                self.patterns.append(self._compile(intent["name"], sample, slot_types))
        self.patterns.sort(key=lambda p: -p.literal)  # ties: the more literal sample first

    @staticmethod
    def _types(types: list[dict[str, Any]]) -> dict[str, dict[str, tuple[str, str]]]:
        """Custom slot types: normalised value or synonym -> (id, canonical name)."""
        table: dict[str, dict[str, tuple[str, str]]] = {}
        for slot_type in types:
            entries = table.setdefault(slot_type["name"], {})
            for value in slot_type["values"]:
                name = value["name"]["value"]
                for said in (name, *value["name"].get("synonyms", [])):
                    entries[normalise(said)] = (value.get("id") or name, name)
        return table

    def expand(self, said: str) -> str:
        """Contractions spelled out ("what's" -> "what is"), so either spelling matches."""
        return " ".join(self.contractions.get(word, word) for word in said.split())

    def _compile(self, intent: str, sample: str, slot_types: dict[str, str]) -> _Pattern:
        parts, literal, last = [], 0, 0
        text = self.expand(normalise_sample(sample))
        for found in _SLOT.finditer(text):
            literal += len(text[last : found.start()].strip())
            parts.append(re.escape(text[last : found.start()]))
            slot = found.group(1)
            body = {
                "AMAZON.NUMBER": self.numbers.pattern,
                "AMAZON.DURATION": self.durations.pattern,
            }.get(slot_types.get(slot, ""), r".+?")
            parts.append(f"(?P<{slot}>{body})")
            last = found.end()
        literal += len(text[last:].strip())
        parts.append(re.escape(text[last:]))
        regex = re.compile("".join(parts).replace(r"\ ", r"\s+"))
        return _Pattern(intent, regex, slot_types, literal)

    def match(self, text: str) -> Match | None:
        """The best match: most words matched literally or by a number or duration slot (which
        only take numbers), so "a five minute grounding pause" fills both of its slots."""
        said = self.expand(normalise(text))
        best: tuple[int, Match] | None = None
        for pattern in self.patterns:
            found = pattern.regex.fullmatch(said)
            if found is None:
                continue
            slots = self._slots(pattern, found.groupdict())
            if slots is None:
                continue
            typed = sum(
                len(found.groupdict().get(name) or "")
                for name, kind in pattern.slot_types.items()
                if kind in ("AMAZON.NUMBER", "AMAZON.DURATION")
            )
            score = pattern.literal + typed
            if best is None or score > best[0]:
                best = (score, Match(pattern.intent, slots))
        return best[1] if best else None

    def _slots(
        self, pattern: _Pattern, values: dict[str, str]
    ) -> tuple[envelopes.Slot, ...] | None:
        slots = []
        for name, slot_type in pattern.slot_types.items():
            raw = values.get(name)
            if raw is None:
                slots.append(envelopes.Slot(name))
            elif slot_type == "AMAZON.NUMBER":
                slots.append(envelopes.Slot(name, self.numbers.value(raw) or "?"))
            elif slot_type == "AMAZON.DURATION":
                slots.append(envelopes.Slot(name, self.durations.value(raw)))
            elif slot_type in self.types:
                resolved = self.types[slot_type].get(raw.strip())
                if resolved is None and pattern.literal == 0:
                    return None  # a bare "{topic}" sample only takes words the model knows
                slot_id, canonical = resolved or (None, None)
                slots.append(envelopes.Slot(name, raw.strip(), slot_id, canonical, slot_type))
            else:
                slots.append(envelopes.Slot(name, raw.strip()))
        return tuple(slots)


def normalise_sample(sample: str) -> str:
    """A sample utterance normalised like typed text, with its {slot} markers kept."""
    pieces = re.split(r"(\{\w+\})", sample)
    return " ".join(p if _SLOT.fullmatch(p) else normalise(p) for p in pieces if p.strip())


def load_matcher(
    locale: str, model_dir: Path = MODEL_DIR, data_dir: Path = DATA_DIR
) -> tuple[UtteranceMatcher, dict[str, Any]]:
    model = json.loads((model_dir / f"{locale}.json").read_text(encoding="utf-8"))
    phrasings = json.loads((data_dir / locale / "simulator.json").read_text(encoding="utf-8"))
    return UtteranceMatcher(model, phrasings), phrasings
