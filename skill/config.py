"""Configuration: the environment, read once at start-up into a frozen `Settings`.

Owns: every TRUST_GUIDE_* variable, its default and its validation. Nothing else in the skill reads
os.environ. Standard library only.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from skill.content import DEFAULT_LOCALE

# Where `trust-guide audio build` writes the clips and their manifest, unless told otherwise.
DEFAULT_AUDIO_OUT = Path(__file__).resolve().parent.parent / "audio" / "out"


class ConfigError(ValueError):
    """A setting is present but unusable; the message names the variable and what it expects."""


def default_store(environ: Mapping[str, str]) -> str:
    """Where progress lives when TRUST_GUIDE_STORE is unset: a file in the user's state directory.

    On Lambda only /tmp is writable (and it is per container, so production sets a DynamoDB store).
    """
    if environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return "sqlite:///tmp/trust-guide/progress.db"
    state = environ.get("XDG_STATE_HOME") or str(
        Path(environ.get("HOME", "~")) / ".local" / "state"
    )
    return f"sqlite://{Path(state).expanduser().resolve() / 'trust-guide' / 'progress.db'}"


def check_store(url: str) -> str:
    """Accept `sqlite:///ABSOLUTE/PATH.db` or `dynamodb://TABLE`; say what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
            raise ConfigError(
                f"TRUST_GUIDE_STORE={url!r}: expected sqlite:///ABSOLUTE/PATH.db (three slashes)"
            )
        return url
    if parts.scheme == "dynamodb":
        if not parts.netloc or parts.path not in ("", "/"):
            raise ConfigError(f"TRUST_GUIDE_STORE={url!r}: expected dynamodb://TABLE")
        return url
    raise ConfigError(
        f"TRUST_GUIDE_STORE={url!r}: expected sqlite:///ABSOLUTE/PATH.db or dynamodb://TABLE"
    )


class Settings(NamedTuple):
    store: str
    locale: str = DEFAULT_LOCALE
    skill_id: str | None = None  # the only skill id the web endpoint accepts
    audio_base_url: str | None = None  # https base URL of hosted pause audio
    audio_manifest: str = str(DEFAULT_AUDIO_OUT / "manifest.json")  # the audio build's manifest
    log_level: str = "INFO"
    verify: bool = True  # verify Alexa's signature on web requests; off only for local development

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        base = env.get("TRUST_GUIDE_AUDIO_BASE_URL") or None
        if base and urlsplit(base).scheme != "https":
            raise ConfigError(
                f"TRUST_GUIDE_AUDIO_BASE_URL={base!r}: Alexa plays audio over https only"
            )
        level = (env.get("TRUST_GUIDE_LOG_LEVEL") or "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(
                f"TRUST_GUIDE_LOG_LEVEL={level!r}: expected DEBUG, INFO, WARNING or ERROR"
            )
        return cls(
            store=check_store(env.get("TRUST_GUIDE_STORE") or default_store(env)),
            locale=env.get("TRUST_GUIDE_LOCALE") or DEFAULT_LOCALE,
            skill_id=env.get("TRUST_GUIDE_SKILL_ID") or None,
            audio_base_url=base.rstrip("/") if base else None,
            audio_manifest=env.get("TRUST_GUIDE_AUDIO_MANIFEST")
            or str(DEFAULT_AUDIO_OUT / "manifest.json"),
            log_level=level,
            verify=_flag(env, "TRUST_GUIDE_VERIFY", default=True),
        )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={value!r}: expected 1 or 0")
