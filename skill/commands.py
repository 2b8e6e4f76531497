"""The guide's commands: what a listener asked for, in the listener's words.

Owns: one small immutable class per command (Next, GoTo, Pause…). Handlers turn Alexa requests
into these; `guide.advance` decides what each does. Standard library only.
"""

from __future__ import annotations

# Commands, Said and Reply are light immutable values rather than dataclasses: a frozen dataclass
# costs about 0.5 ms to create at import, and the Lambda's cold start pays for every one
# (measured with `python -X importtime`; see bench/bench_skill.py).


class Command:
    """A guide command: an immutable value, equal to another of the same type and fields."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, *values: object, **named: object) -> None:
        fields = dict(zip(self.__slots__, values, strict=False)) | named
        for name in self.__slots__:
            object.__setattr__(self, name, fields.pop(name, None))
        if fields:
            raise TypeError(f"{type(self).__name__} has no field {next(iter(fields))!r}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._fields() == self._fields()

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({shown})"


class Launch(Command):
    """The skill was opened ("Alexa, open trust guide")."""

    __slots__ = ()


class Next(Command):
    __slots__ = ()


class Previous(Command):
    __slots__ = ()


class Repeat(Command):
    __slots__ = ()


class StartOver(Command):
    __slots__ = ()


class GoTo(Command):
    """Go to a step by number or by name. `number` is the raw AMAZON.NUMBER value ("5", "42",
    "?" when Alexa did not catch it); `topic_id` is an entity-resolution match, `topic` the raw
    words when there was none."""

    __slots__ = ("number", "topic_id", "topic")
    number: str | None
    topic_id: str | None
    topic: str | None


class ListSteps(Command):
    __slots__ = ()


class WhereAmI(Command):
    __slots__ = ()


class Yes(Command):
    __slots__ = ()


class No(Command):
    __slots__ = ()


class Help(Command):
    __slots__ = ()


class Stop(Command):
    __slots__ = ()


class Fallback(Command):
    """Something the skill did not understand."""

    __slots__ = ()


class Pause(Command):
    """A guided self-care pause. `kind_id`: an entity-resolution match; `kind`: the raw words;
    `length`: the raw AMAZON.DURATION value (ISO 8601, "PT2M")."""

    __slots__ = ("kind_id", "kind", "length")
    kind_id: str | None
    kind: str | None
    length: str | None


class SessionEnd(Command):
    """Alexa closed the session; nothing may be said."""

    __slots__ = ()
