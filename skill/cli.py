"""The `trust-guide` command: talk to the skill in a terminal, and the operator's tools.

Owns: argument parsing and printing only; every command hands its work to the module that owns it.
Errors an operator can fix (a bad store URL, a missing script file) exit with a one-line message,
never a traceback.
"""

from __future__ import annotations

import getpass
import importlib
import logging
import sys
import textwrap
from pathlib import Path

import click

from skill.config import ConfigError, Settings, check_store


def _settings(store: str | None) -> Settings:
    try:
        settings = Settings.from_env()
        return settings._replace(store=check_store(store)) if store else settings
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


@click.group()
@click.version_option(package_name="trust-guide")
def main() -> None:
    """Trust Guide: an Alexa skill that reads "How to Help Your Partner with Trust Issues"."""


@main.command()
@click.option(
    "--script", type=click.File("r"), help="Utterances to say, one a line ('-' for stdin)."
)
@click.option("--user", default=None, help="The Alexa user id to play (default: one per OS user).")
@click.option("--person", default=None, help="A recognised speaker's person id.")
@click.option("--store", default=None, help="Where progress lives (default: TRUST_GUIDE_STORE).")
@click.option("--locale", default="en-US", show_default=True)
@click.option("--raw", is_flag=True, help="Print each response's JSON as well.")
@click.option(
    "--play", is_flag=True, help="Play pause audio from the audio build, if a player exists."
)
@click.option("--player", default=None, help="The player command (default: ffplay, mpg123 or mpv).")
def chat(script, user, person, store, locale, raw, play, player) -> None:
    """Talk to the skill as to a speaker. Say "open trust guide" to begin, "exit" to leave."""
    from skill.builder import build_skill
    from skill.envelopes import Listener
    from skill.simulator import Simulator, script_lines

    settings = _settings(store)
    audio = _Audio(settings, play, player) if play else None
    if audio is not None:
        settings = audio.settings
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        skill = build_skill(settings._replace(log_level="WARNING"))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    local = getpass.getuser()
    listener = Listener(
        user_id=user or f"amzn1.ask.account.local-{local}",
        person_id=person,
        device_id=f"amzn1.ask.device.terminal-{local}",
        locale=locale,
    )
    if settings.skill_id:  # speak as the skill the settings accept
        listener.application_id = settings.skill_id
    simulator = Simulator(skill, listener)
    click.secho(f"Trust Guide in your terminal. Progress is kept in {settings.store}.", dim=True)
    if script is None:
        click.secho(
            'Say "open trust guide" to begin, "exit" to leave; an empty line is silence.', dim=True
        )
        _interactive(simulator, raw, audio)
    else:
        for line in script_lines(script):
            click.echo(f"you> {line}")
            _show(simulator.say(line), raw, audio)
    _show(simulator.end(), raw, audio)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), help="TLS certificate")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key")
@click.option(
    "--no-verify", is_flag=True, help="Accept unsigned requests (local development ONLY)."
)
@click.option("--store", default=None, help="Where progress lives (default: TRUST_GUIDE_STORE).")
def serve(host, port, certfile, keyfile, no_verify, store) -> None:
    """Answer Alexa's HTTPS requests (Flask's server; use gunicorn in production, see README)."""
    from skill.web import create_app_from_settings

    settings = _settings(store)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if no_verify:
        click.secho(
            "WARNING: request verification is OFF. Anyone who can reach this port can drive the "
            "skill and read listeners' progress. Never expose this to the internet.",
            fg="red",
            bold=True,
            err=True,
        )
    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certfile and --keyfile go together")
    try:
        app = create_app_from_settings(settings, verify=not no_verify and settings.verify)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    tls = (certfile, keyfile) if certfile else None
    app.run(host=host, port=port, ssl_context=tls, threaded=True)


@main.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default="build/trust-guide-lambda.zip",
    show_default=True,
)
@click.option(
    "--lambda-arn", default=None, help="Also write this function ARN into skill-package/skill.json."
)
def package(out, lambda_arn) -> None:
    """Build the Lambda zip (run-time dependencies only) and sync the skill package's models."""
    from pathlib import Path

    from skill.packaging import PackageError, build_lambda_zip, sync_skill_package

    settings = _settings(None)
    manifest = Path(settings.audio_manifest)
    try:
        for path in sync_skill_package(lambda_arn):
            click.echo(f"wrote {path}")
        report = build_lambda_zip(Path(out), manifest)
    except PackageError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{report.path}: {report.size / 1e6:.2f} MB, {report.files} files "
        f"(limit 10 MB; left out: {', '.join(report.left_out) or 'nothing'})"
    )


class _LazyGroup(click.Group):
    """A group whose commands live in another package, imported only when the group is used:
    `trust-guide audio` loads audio/ (pydub, gTTS) for the build, and nothing else does."""

    def __init__(self, *args, commands_from: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.commands_from = commands_from

    def _load(self) -> None:
        if not self.commands:
            module = importlib.import_module(self.commands_from)
            for command in module.COMMANDS:
                self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, name)


@main.group(cls=_LazyGroup, commands_from="audio.cli")
def audio() -> None:
    """The self-care pause audio: build it (gTTS, or espeak-ng offline)."""


@main.group()
def store() -> None:
    """The progress store (DynamoDB tables for production)."""


@store.command("create")
@click.argument("table", required=False)
def store_create(table) -> None:
    """Create the DynamoDB table (on-demand billing) named TABLE or by TRUST_GUIDE_STORE."""
    from urllib.parse import urlsplit

    from ask_sdk_core.exceptions import PersistenceException

    if table is None:
        url = urlsplit(_settings(None).store)
        if url.scheme != "dynamodb":
            raise click.UsageError("give a TABLE, or set TRUST_GUIDE_STORE=dynamodb://TABLE")
        table = url.netloc
    from skill.persistence.dynamodb import create_table

    try:
        click.echo(create_table(table))
    except (ConfigError, PersistenceException) as exc:
        raise click.ClickException(str(exc)) from exc


class _Audio:
    """chat --play: the skill is told its audio is hosted; the terminal plays the built files."""

    def __init__(self, settings: Settings, play: bool, player: str | None) -> None:
        from skill.pauses import load_manifest
        from skill.player import LOCAL_AUDIO_BASE, find_player

        manifest_path = Path(settings.audio_manifest)
        self.out_dir = manifest_path.parent
        self.manifest = load_manifest(manifest_path)
        self.player = find_player(player)
        if self.manifest is None:
            click.secho(
                f"No pause audio at {manifest_path} (run: trust-guide audio build); "
                "pauses use Alexa's voice.",
                dim=True,
            )
        self.settings = settings._replace(
            audio_base_url=LOCAL_AUDIO_BASE, audio_manifest=str(manifest_path)
        )

    def play_all(self, sources: tuple[str, ...]) -> None:
        from skill.player import local_file, play

        for src in sources:
            path = local_file(src, self.out_dir)
            clip = next(
                (c for c in self.manifest.clips.values() if path and c.file == path.name), None
            )
            seconds = clip.duration_ms / 1000 if clip else 0
            name = path.name if path else src
            if path is None or self.player is None:
                reason = "no player found" if path else "file not found"
                click.secho(
                    f"  [pause audio] {name}, {seconds:.0f} s: would play now ({reason})",
                    fg="magenta",
                )
                continue
            click.secho(f"  [playing {name}, {seconds:.0f} s]", fg="magenta")
            if not play(self.player, path, timeout_s=seconds + 10):
                click.secho(f"  [{self.player[0]} could not play it]", fg="magenta")


def _interactive(simulator, raw: bool, audio: _Audio | None) -> None:
    while True:
        try:
            line = input("you> ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        _show(simulator.say(line), raw, audio)


def _show(turn, raw: bool, audio: _Audio | None = None) -> None:
    if turn is None:
        return
    width = 96
    if turn.note:
        click.secho(f"  {turn.note}", dim=True)
    first = True
    for kind, value in turn.parts:  # speech and audio in the order Alexa plays them
        if kind == "audio":
            if audio is not None:
                audio.play_all((value,))
            else:
                click.secho(f"  [pause audio: {value}]", fg="magenta")
            continue
        lead = "alexa> " if first else "       "
        click.echo(textwrap.fill(value, width, initial_indent=lead, subsequent_indent="       "))
        first = False
    if turn.card:
        title, text = turn.card
        click.secho(f"  [card] {title}", fg="cyan")
        click.secho(
            textwrap.fill(text, width, initial_indent="         ", subsequent_indent="         "),
            dim=True,
        )
    if turn.request_type and not turn.session_open:
        click.secho("  (session closed)", dim=True)
    if raw and turn.response:
        import json

        click.echo(json.dumps(turn.response, indent=2))


if __name__ == "__main__":
    sys.exit(main())
