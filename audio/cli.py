"""`trust-guide audio build`: the click command that runs the audio build with a progress bar.

Owns: options, the progress bar and turning build errors into one-line messages. The `trust-guide
audio` group (skill/cli.py) adds this command; it imports audio/ only when the group is used.
"""

from __future__ import annotations

from pathlib import Path

import click

from audio.assemble import BuildError
from audio.build import DEFAULT_CACHE, build
from audio.engines import ENGINE_NAMES, EngineUnavailable, make_engine
from skill.content import DATA_DIR, DEFAULT_LOCALE, ContentError
from skill.pauses import DEFAULT_OUT, load_catalog


class _Bar:
    """A click progress bar opened on the first report (its length known only then), reopened
    if the total changes (the engine fell back), and closed before any message is printed."""

    def __init__(self) -> None:
        self.bar: click.progressbar[int] | None = None
        self.shown = 0

    def progress(self, done: int, total: int) -> None:
        if self.bar is not None and self.bar.length != total:
            self.close()
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="Rendering pauses", show_pos=True)
            self.bar.__enter__()
            self.shown = 0
        self.bar.update(done - self.shown)
        self.shown = done

    def note(self, message: str) -> None:
        self.close()
        click.echo(message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command("build")
@click.option(
    "--engine",
    type=click.Choice(ENGINE_NAMES),
    default="auto",
    show_default=True,
    help="Voice for the cues: Google (gtts), offline espeak-ng, or gtts falling back to espeak.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Folder for the MP3 clips and manifest.json.",
)
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CACHE,
    show_default=True,
    help="Folder for spoken cues, reused across builds.",
)
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Parallel jobs [all cores].")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="gTTS timeout (s).")
@click.option(
    "--gtts-url",
    default=None,
    hidden=True,  # another endpoint for gTTS (tests: a local HTTPS server)
)
@click.option("--locale", default=DEFAULT_LOCALE, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=DATA_DIR,
    hidden=True,  # another catalog (tests, drafts)
)
def build_command(
    engine: str,
    out: Path,
    cache: Path,
    jobs: int | None,
    timeout: float,
    gtts_url: str | None,
    locale: str,
    data_dir: Path,
) -> None:
    """Render every guided pause to MP3 (Alexa's format) and write the manifest the skill reads.

    Unchanged clips are kept; a cue is spoken once per engine, voice and text.
    """
    bar = _Bar()
    try:
        catalog = load_catalog(locale, data_dir)
        result = build(
            catalog,
            make_engine(engine, timeout=timeout, base_url=gtts_url),
            out,
            cache_dir=cache,
            jobs=jobs,
            on_progress=bar.progress,
            on_note=bar.note,
        )
    except EngineUnavailable as exc:
        bar.close()
        hint = "; build offline with --engine espeak, or use --engine auto to fall back"
        raise click.ClickException(f"{exc}{hint if engine == 'gtts' else ''}.") from exc
    except (BuildError, ContentError) as exc:
        bar.close()
        raise click.ClickException(str(exc)) from exc
    bar.close()
    click.echo(f"Manifest: {out / 'manifest.json'} ({len(result.manifest.clips)} clips)")


COMMANDS = (build_command,)  # what `trust-guide audio` offers (skill/cli.py loads this)
