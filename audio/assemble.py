"""One clip: a script's cues at their times over a soft bed, between two chimes, brought to one
measured loudness and exported in the MP3 format Alexa plays.

Owns: the sound of a pause (levels, bed, chime) and the ffmpeg calls that measure and encode.
pydub mixes; ffmpeg (pydub's converter) measures loudness (EBU R128), limits peaks and encodes.
Alexa's `<audio>`: MP3, 48 kbps, 24000 Hz (MPEG-2 Layer III here, mono), at most 240 s a response.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydub import AudioSegment
from pydub.generators import Sine
from pydub.silence import detect_leading_silence

from skill.pauses import MAX_CLIP_S, PauseScript

ASSEMBLY_VERSION = 2  # part of every clip's cache key: bump it when the sound below changes
RATE = 24_000
TARGET_LUFS = -16.0  # integrated loudness of every clip
AIM_LU = 0.3  # how close the build aims; clips are checked within 1 LU
ENCODE_LOSS_LU = 1.1  # measured here: the limiter and the MP3 encoder's low-pass take about this
PEAK_LIMIT = 0.8  # lookahead limiter ceiling, linear (-1.9 dBFS): room for MP3's overshoot
CUE_RMS_DBFS = -20.0  # each cue's level before the final gain, so cues sound alike
CUE_PEAK_DBFS = -1.5  # ... and its highest peak, so cue + bed + chime never clip in 16 bits
CHIME_MS = 2200
BED_FADE_MS = 3000
LATE_MS = 300  # a cue pushed later than this by the one before is reported
# -write_xing 0: LAME's first (Xing/Info) frame is 64 kbps; without it every frame is 48 kbps.
MP3_PARAMETERS = ["-ar", str(RATE), "-ac", "1", "-write_xing", "0", "-id3v2_version", "0"]
FFMPEG_TIMEOUT_S = 300


class BuildError(RuntimeError):
    """The build cannot make a clip (ffmpeg missing or failing, speech that does not fit)."""


@dataclass(frozen=True)
class Loudness:
    lufs: float  # integrated, EBU R128
    peak_dbfs: float  # sample peak
    duration_ms: int | None = None  # of a file, as ffmpeg's demuxer (and ffprobe) reports it


@dataclass(frozen=True)
class Rendered:
    duration_ms: int
    loudness: Loudness
    notes: tuple[str, ...]


def ffmpeg(*args: str, stdin: bytes | None = None) -> str:
    """Run ffmpeg (or ffprobe: args[0]) and return its stderr; BuildError with the last line."""
    tool = "ffprobe" if args and args[0] == "ffprobe" else "ffmpeg"
    exe = shutil.which(tool)
    if exe is None:
        raise BuildError(f"{tool} is not installed (apt-get install ffmpeg)")
    argv = [exe, "-hide_banner", *(args[1:] if tool == "ffprobe" else args)]
    done = subprocess.run(argv, input=stdin, capture_output=True, timeout=FFMPEG_TIMEOUT_S)
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        raise BuildError(f"{tool} failed: {last[0]}")
    return done.stdout.decode() if tool == "ffprobe" else done.stderr.decode(errors="replace")


def _parse_ebur128(log: str) -> Loudness:
    summary = log.rpartition("Summary:")[2]
    lufs = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if not lufs or not peak:
        raise BuildError("ffmpeg's ebur128 filter printed no summary")
    duration = re.search(r"Duration: (\d+):(\d\d):(\d\d\.\d+)", log)
    ms = None
    if duration:
        hours, minutes, seconds = duration.groups()
        ms = round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * 1000)
    return Loudness(float(lufs.group(1)), float(peak.group(1)), ms)


def _chain(gain_db: float) -> str:
    """Gain in floating point (no clipping on the way), then a lookahead limiter for peaks."""
    return f"volume={gain_db:.2f}dB,alimiter=limit={PEAK_LIMIT}:level=0:latency=1"


def measure_pcm(mix: AudioSegment, gain_db: float) -> Loudness:
    """The loudness `mix` would have after `_chain(gain_db)`."""
    pcm = ["-f", "s16le", "-ar", str(RATE), "-ac", "1", "-i", "pipe:0"]
    af = f"{_chain(gain_db)},ebur128=peak=sample:framelog=verbose"
    log = ffmpeg("-nostats", *pcm, "-af", af, "-f", "null", "-", stdin=mix.raw_data)
    return _parse_ebur128(log)


def measure_file(path: Path) -> Loudness:
    """Integrated loudness and sample peak of an audio file, decoded as a listener hears it."""
    af = "ebur128=peak=sample:framelog=verbose"
    return _parse_ebur128(ffmpeg("-nostats", "-i", str(path), "-af", af, "-f", "null", "-"))


def prepare_cue(data: bytes, suffix: str) -> AudioSegment:
    """An engine's audio for one cue, as the mix wants it: mono 24 kHz 16-bit, the silence
    around the words trimmed (so a cue starts on its time), and at the common cue level."""
    sound = AudioSegment.from_file(io.BytesIO(data), format=suffix)
    sound = sound.set_channels(1).set_frame_rate(RATE).set_sample_width(2)
    start = detect_leading_silence(sound, silence_threshold=-50.0)
    end = len(sound) - detect_leading_silence(sound.reverse(), silence_threshold=-50.0)
    if end - start < 50:
        raise BuildError("the engine returned no audible speech")
    speech = sound[start:end]
    gain = min(CUE_RMS_DBFS - speech.dBFS, CUE_PEAK_DBFS - speech.max_dBFS)
    return speech.apply_gain(gain).fade_in(5).fade_out(10)


def _tones(partials: tuple[tuple[int, float], ...], length_ms: int) -> AudioSegment:
    """Sine partials (Hz, dBFS) mixed, `length_ms` long. Every frequency is a multiple of 10 Hz,
    so 100 ms holds whole cycles of each: generating those once and repeating them is seamless,
    and much faster than pydub's generators (pure Python, sample by sample) over the whole length.
    """
    period = AudioSegment.silent(100, frame_rate=RATE)
    for freq, dbfs in partials:
        assert freq % 10 == 0, "whole cycles in 100 ms"
        period = period.overlay(Sine(freq, sample_rate=RATE).to_audio_segment(100, dbfs))
    return (period * (length_ms // 100 + 1))[:length_ms]


@cache
def chime() -> AudioSegment:
    """A small bell: three partials, a soft attack and a long decay."""
    tone = _tones(((660, -22.0), (1320, -32.0), (1760, -36.0)), CHIME_MS)
    return tone.fade(to_gain=-60.0, start=10, end=CHIME_MS).fade_in(10).fade_out(60)


def bed(length_ms: int) -> AudioSegment:
    """A quiet open chord (A3, E4, A4) under the whole clip, faded in and out."""
    chord = _tones(((220, -44.0), (330, -48.0), (440, -54.0)), length_ms)
    return chord.fade_in(BED_FADE_MS).fade_out(BED_FADE_MS)


def compose(script: PauseScript, voices: dict[str, AudioSegment]) -> tuple[AudioSegment, list[str]]:
    """The mix before loudness: bed, chimes, and each cue at its time (or, if the one before ran
    long, right after it, reported in the notes). Exactly the script's length."""
    frames_per_ms = RATE // 1000
    total = script.length_s * 1000 * frames_per_ms
    track, notes = bytearray(), []
    for cue in script.cues:
        speech = voices[cue.text]
        start = max(cue.at_ms * frames_per_ms, len(track) // 2)
        late_ms = (start // frames_per_ms) - cue.at_ms
        if late_ms > LATE_MS:
            notes.append(f"{script.id}: the cue at {cue.at_ms / 1000:g} s starts {late_ms} ms late")
        track += bytes(2 * (start - len(track) // 2)) + speech.raw_data
    if len(track) // 2 > total - CHIME_MS * frames_per_ms:
        raise BuildError(
            f"{script.id}: the speech runs to {len(track) / 2 / RATE:.1f} s, into the closing "
            f"chime at {script.length_s - CHIME_MS / 1000:g} s; shorten its last cues"
        )
    track += bytes(2 * total - len(track))
    voice = AudioSegment(data=bytes(track), sample_width=2, frame_rate=RATE, channels=1)
    mix = bed(len(voice)).overlay(voice).overlay(chime())
    return mix.overlay(chime(), position=len(mix) - CHIME_MS), notes


def render(script: PauseScript, voices: dict[str, AudioSegment], path: Path) -> Rendered:
    """Compose the clip, export it with the gain that brings it to TARGET_LUFS, and measure the
    MP3 itself: a listener hears the encoded file, so that is the measurement that counts; when
    it is off by more than AIM_LU, export again with the difference corrected."""
    if script.length_s > MAX_CLIP_S:
        raise BuildError(f"{script.id}: {script.length_s} s is over Alexa's {MAX_CLIP_S} s")
    mix, notes = compose(script, voices)
    gain = TARGET_LUFS - measure_pcm(mix, 0.0).lufs + ENCODE_LOSS_LU
    partial = path.with_name(path.name + ".part")
    for _ in range(3):
        mix.export(
            partial, format="mp3", bitrate="48k", parameters=["-af", _chain(gain), *MP3_PARAMETERS]
        )
        final = measure_file(partial)
        if abs(TARGET_LUFS - final.lufs) <= AIM_LU:
            break
        gain += TARGET_LUFS - final.lufs
    if abs(TARGET_LUFS - final.lufs) > 1.0 or final.peak_dbfs >= 0.0:
        raise BuildError(f"{script.id}: came out at {final.lufs} LUFS, peak {final.peak_dbfs} dBFS")
    if final.duration_ms is None:
        raise BuildError(f"{script.id}: ffmpeg did not report the MP3's duration")
    partial.replace(path)
    return Rendered(final.duration_ms, final, tuple(notes))
