"""Voices for the audio build: one small interface, gTTS online, espeak-ng offline, and "auto".

Owns: turning one cue's text into audio bytes, and saying in one line why that is impossible when
it is. Another voice (a local neural one, say) is one more class with `name`, `voice`, `suffix`
and `synthesize`. gtts is imported only when Google is asked, so an offline build needs none of it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol
from urllib.parse import urlsplit

ENGINE_NAMES = ("gtts", "espeak", "auto")


class EngineUnavailable(RuntimeError):
    """The engine cannot speak at all (no network, no binary). The message is one line."""


class Engine(Protocol):
    """A voice. `name` goes into the manifest; `name`, `voice` and the text key the cue cache."""

    name: str  # "gtts", "espeak"
    suffix: str  # the format `synthesize` returns: "mp3" or "wav"

    @property
    def voice(self) -> str:
        """Everything else that changes the sound (language, accent, speed)."""
        ...

    def synthesize(self, text: str) -> bytes: ...


@dataclass(frozen=True)
class GttsEngine:
    """Google Translate's voice through gTTS, with a bounded timeout.

    gTTS waits for ever by default and builds its URL as https://translate.google.<tld>/. With
    `base_url` (tests: a local HTTPS server) the tld becomes "<tld>@host:port", which makes the
    Google name mere user-info in the URL, so requests go to that host; gTTS never checks TLS.
    """

    lang: str = "en"
    tld: str = "com"  # the Google host, and with it the accent
    timeout: float = 10.0  # seconds, for connecting and for each read
    base_url: str | None = None

    name: ClassVar[str] = "gtts"
    suffix: ClassVar[str] = "mp3"

    @property
    def voice(self) -> str:
        return f"{self.lang}-{self.tld}" + (f"@{self.base_url}" if self.base_url else "")

    @property
    def host(self) -> str:
        return self.base_url or f"https://translate.google.{self.tld}"

    def _url_tld(self) -> str:
        if self.base_url is None:
            return self.tld
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"base_url {self.base_url!r}: expected https://HOST[:PORT]")
        return f"{self.tld}@{parts.netloc}"

    def synthesize(self, text: str) -> bytes:
        import requests
        from gtts import gTTS, gTTSError

        buffer = io.BytesIO()
        tld = self._url_tld()
        tts = gTTS(text, tld=tld, lang=self.lang, lang_check=False, timeout=self.timeout)
        try:
            tts.write_to_fp(buffer)
        except gTTSError as exc:
            cause = exc.__context__
            if isinstance(cause, requests.Timeout):
                why = f"no answer within {self.timeout:g} s"
            elif isinstance(cause, requests.ConnectionError):
                why = "could not connect"
            elif exc.rsp is not None and exc.rsp.status_code >= 400:
                why = f"HTTP {exc.rsp.status_code}"
            else:
                why = "no audio in the answer"
            raise EngineUnavailable(f"Google Text-to-Speech at {self.host}: {why}") from exc
        if not buffer.getvalue():
            raise EngineUnavailable(f"Google Text-to-Speech at {self.host}: no audio for {text!r}")
        return buffer.getvalue()


@dataclass(frozen=True)
class EspeakEngine:
    """espeak-ng, offline: robotic but always there. Writes a WAV file (its stdout WAV header
    carries no length, so a file is the safe way to get well-formed audio)."""

    variant: str = "en-us+f3"
    speed: int = 140  # words a minute; calm, and what skill.pauses.estimate_ms assumes
    binary: str = "espeak-ng"
    timeout: float = 30.0

    name: ClassVar[str] = "espeak"
    suffix: ClassVar[str] = "wav"

    @property
    def voice(self) -> str:
        return f"{self.variant}@{self.speed}"

    def synthesize(self, text: str) -> bytes:
        exe = shutil.which(self.binary)
        if exe is None:
            raise EngineUnavailable(f"{self.binary} is not installed (apt-get install espeak-ng)")
        with tempfile.TemporaryDirectory(prefix="trust-guide-espeak-") as tmp:
            out = Path(tmp) / "cue.wav"
            command = [exe, "-v", self.variant, "-s", str(self.speed), "-w", str(out), "--stdin"]
            done = subprocess.run(
                command, input=text.encode(), capture_output=True, timeout=self.timeout
            )
            if done.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
                detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
                raise EngineUnavailable(f"{self.binary} failed on {text!r}: {detail[0]}")
            return out.read_bytes()


@dataclass(frozen=True)
class AutoEngine:
    """Engines in order of preference. The build picks one for the whole run (the first that
    works), so a clip never mixes two voices, and it says once that it fell back."""

    engines: tuple[Engine, ...]

    name: ClassVar[str] = "auto"


def make_engine(
    name: str, *, timeout: float = 10.0, base_url: str | None = None
) -> Engine | AutoEngine:
    """The engine the CLI's --engine names (`base_url`: where gTTS goes instead of Google)."""
    if name == "gtts":
        return GttsEngine(timeout=timeout, base_url=base_url)
    if name == "espeak":
        return EspeakEngine()
    if name == "auto":
        return AutoEngine((GttsEngine(timeout=timeout, base_url=base_url), EspeakEngine()))
    raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}")


def candidates(engine: Engine | AutoEngine) -> tuple[Engine, ...]:
    """The engines a build may use, best first."""
    return engine.engines if isinstance(engine, AutoEngine) else (engine,)
