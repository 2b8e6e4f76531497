"""The audio build for real: espeak-ng, ffmpeg and ffprobe on a tiny catalog, and gTTS against a
local HTTPS server that answers as Google's endpoint does (this machine has no internet)."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from audio.build import BuildResult, build
from audio.cli import build_command
from audio.engines import AutoEngine, EngineUnavailable, EspeakEngine, GttsEngine
from skill.pauses import Catalog, load_catalog, load_manifest

MISSING = [tool for tool in ("ffmpeg", "ffprobe", "espeak-ng") if shutil.which(tool) is None]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)} (apt-get install)"),
]

TARGET_LUFS = -16.0
TINY = {
    "version": 1,
    "lengths_s": [8, 10],
    "kinds": [
        {
            "id": "breathing",
            "name": "breathing pause",
            "synonyms": ["breathe"],
            "scripts": [
                {
                    "length_s": 8,
                    "title": "Short",
                    "cues": [
                        {"at": 1, "text": "Breathe in, two", "pace": 1},
                        {"at": 3, "text": "And out."},
                    ],
                },
                {
                    "length_s": 10,
                    "title": "Longer",
                    "cues": [
                        {"at": 1, "text": "Let's breathe."},
                        {"at": 3, "text": "In, two", "pace": 1},
                        {"at": 5, "text": "Out, two", "pace": 1},
                    ],
                },
            ],
        }
    ],
}


def write_catalog(folder: Path, data: dict[str, Any] = TINY) -> Path:
    (folder / "en-US").mkdir(parents=True, exist_ok=True)
    (folder / "en-US" / "pauses.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """gTTS sends through urllib's proxies; the local server must be reached directly."""
    for key in [k for k in os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(key)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_catalog(tmp_path_factory.mktemp("catalog"))


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> Catalog:
    return load_catalog("en-US", tiny_dir)


@pytest.fixture(scope="module")
def built(tiny: Catalog, tmp_path_factory: pytest.TempPathFactory) -> tuple[BuildResult, Path]:
    """One espeak-ng build of the tiny catalog, shared by the tests that only look at it."""
    root = tmp_path_factory.mktemp("built")
    return build(tiny, EspeakEngine(), root / "out", cache_dir=root / "cache"), root


# --- measuring the clips, independently of the build -----------------------------------------


def ffprobe(path: Path, *entries: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *entries, str(path)],
        capture_output=True,
        check=True,
    ).stdout
    return json.loads(out)


def ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and sample peak (dBFS) as ffmpeg's EBU R128 meter reads them."""
    log = subprocess.run(
        ["ffmpeg", "-nostats", "-i", str(path), "-af", "ebur128=peak=sample", "-f", "null", "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stderr.rpartition("Summary:")[2]
    lufs = re.search(r"I:\s+(-?[\d.]+) LUFS", log)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", log)
    assert lufs and peak, log
    return float(lufs.group(1)), float(peak.group(1))


def assert_alexa_clip(path: Path, length_s: int) -> None:
    """Alexa's <audio>: MP3, 48 kbps, 24000 Hz; mono; its script's length; -16 LUFS; no clipping."""
    info = ffprobe(path, "-show_streams", "-show_format")
    stream, fmt = info["streams"][0], info["format"]
    assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("mp3", "24000", 1)
    assert stream["bit_rate"] == "48000" and fmt["bit_rate"] == "48000"
    assert abs(float(fmt["duration"]) - length_s) <= 0.01 * length_s, fmt["duration"]
    packets = ffprobe(path, "-show_packets", "-show_entries", "packet=size")["packets"]
    # MPEG-2 Layer III at 24 kHz: 576 samples a frame, 48 kbps = 144 bytes. LAME's Xing/Info
    # frame would be a larger, 64 kbps one.
    assert {int(p["size"]) for p in packets} == {144}
    header = int.from_bytes(path.read_bytes()[:4], "big")
    assert header >> 21 == 0x7FF and (header >> 19) & 3 == 2 and (header >> 17) & 3 == 1
    lufs, peak = ebur128(path)
    assert abs(lufs - TARGET_LUFS) <= 1.0, f"{path.name}: {lufs} LUFS"
    assert peak < -0.5, f"{path.name}: sample peak {peak} dBFS"


# --- espeak-ng, for real ----------------------------------------------------------------------


def test_every_clip_is_alexa_ready(built: tuple[BuildResult, Path], tiny: Catalog) -> None:
    result, root = built
    assert sorted(result.rendered) == sorted(s.id for s in tiny.scripts)
    for script in tiny.scripts:
        clip = result.manifest.clips[script.id]
        assert_alexa_clip(root / "out" / clip.file, script.length_s)


def test_manifest_lists_every_clip_with_its_hash(
    built: tuple[BuildResult, Path], tiny: Catalog
) -> None:
    result, root = built
    on_disk = json.loads((root / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in on_disk["clips"]] == sorted(s.id for s in tiny.scripts)
    manifest = load_manifest(root / "out" / "manifest.json")
    assert manifest == result.manifest
    for script in tiny.scripts:
        clip = manifest.clips[script.id]
        data = (root / "out" / clip.file).read_bytes()
        assert clip.sha256 == hashlib.sha256(data).hexdigest()
        assert (clip.kind, clip.length_s, clip.engine) == (script.kind, script.length_s, "espeak")
        assert abs(clip.duration_ms - script.length_s * 1000) <= 10 * script.length_s
    assert {p.name for p in (root / "out").iterdir()} == {
        "manifest.json",
        *(c.file for c in manifest.clips.values()),
    }


def test_cues_sound_at_their_script_times(built: tuple[BuildResult, Path], tiny: Catalog) -> None:
    """The cue "Out" at 5 s: speech just after it, only the quiet bed just before."""
    result, root = built
    pcm = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(root / "out" / result.manifest.clips["breathing-10"].file),
        ]
        + ["-f", "s16le", "-ac", "1", "-ar", "24000", "-"],
        capture_output=True,
        check=True,
    ).stdout

    def rms(start_s: float, end_s: float) -> float:
        chunk = memoryview(pcm)[int(start_s * 24000) * 2 : int(end_s * 24000) * 2].cast("h")
        return (sum(x * x for x in chunk) / len(chunk)) ** 0.5

    assert rms(5.05, 5.35) > 10 * rms(4.65, 4.95)


def test_an_unchanged_build_does_nothing_and_says_so(
    built: tuple[BuildResult, Path], tiny: Catalog
) -> None:
    first, root = built
    before = {p.name: p.stat().st_mtime_ns for p in (root / "out").iterdir()}
    notes: list[str] = []
    again = build(
        tiny, EspeakEngine(), root / "out", cache_dir=root / "cache", on_note=notes.append
    )
    assert again.did_nothing and again.rendered == () and again.synthesised == 0
    assert notes == ["All 2 clips are up to date (espeak): nothing to do."]
    assert again.manifest == first.manifest
    assert {p.name: p.stat().st_mtime_ns for p in (root / "out").iterdir()} == before


def test_a_changed_cue_remakes_only_its_clip(
    built: tuple[BuildResult, Path], tmp_path: Path
) -> None:
    first, root = built
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    changed = json.loads(json.dumps(TINY))
    changed["kinds"][0]["scripts"][0]["cues"][1]["text"] = "And slowly out."
    catalog = load_catalog("en-US", write_catalog(tmp_path / "data", changed))
    out = tmp_path / "out"
    result = build(catalog, EspeakEngine(), out, cache_dir=tmp_path / "cache")
    assert result.rendered == ("breathing-8",) and result.synthesised == 1
    assert result.manifest.clips["breathing-10"] == first.manifest.clips["breathing-10"]
    assert not (out / first.manifest.clips["breathing-8"].file).exists()  # the old clip is gone
    assert_alexa_clip(out / result.manifest.clips["breathing-8"].file, 8)


def test_a_lost_clip_is_made_again_from_cached_cues(
    built: tuple[BuildResult, Path], tiny: Catalog, tmp_path: Path
) -> None:
    first, root = built
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    (tmp_path / "out" / first.manifest.clips["breathing-10"].file).write_bytes(b"damaged")
    result = build(tiny, EspeakEngine(), tmp_path / "out", cache_dir=tmp_path / "cache")
    assert result.rendered == ("breathing-10",) and result.synthesised == 0


def test_the_cli_builds_then_has_nothing_to_do(tiny_dir: Path, tmp_path: Path) -> None:
    args = ["--engine", "espeak", "--data-dir", str(tiny_dir), "--out", str(tmp_path / "out")]
    args += ["--cache", str(tmp_path / "cache"), "--jobs", "2"]
    first = CliRunner().invoke(build_command, args)
    assert first.exit_code == 0, first.output
    assert "Made 2 of 2 clips" in first.output and "6 cues spoken" in first.output
    second = CliRunner().invoke(build_command, args)
    assert second.exit_code == 0 and "nothing to do" in second.output


# --- gTTS against a local stand-in for Google ---------------------------------------------------

TTS_PATH = "/_/TranslateWebserverUi/data/batchexecute"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files (gTTS does not verify TLS, but it
    does speak it, so the stand-in must)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "translate.google.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tone_mp3() -> bytes:
    """What the stand-in says for every cue: 0.6 s of a 440 Hz tone, as Google sends speech
    (MP3, 24 kHz, mono, 32 kbps)."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.6"]
        + ["-ar", "24000", "-ac", "1", "-b:a", "32k", "-f", "mp3", "-"],
        capture_output=True,
        check=True,
    ).stdout


class FakeGoogle:
    """An HTTPS server on 127.0.0.1 answering gTTS's batchexecute POSTs. `mode` is "speak",
    "silent" (never answers, until the test ends) or an HTTP status to fail with."""

    def __init__(self, folder: Path, audio: bytes) -> None:
        self.audio, self.mode = audio, "speak"
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if fake.mode == "silent":
                    fake.release.wait(10)
                    return
                if fake.mode != "speak":
                    self.send_error(int(fake.mode))
                    return
                b64 = base64.b64encode(fake.audio).decode()
                reply = (
                    f')]}}\'\n\n[["wrb.fr","jQ1olc","[\\"{b64}\\"]",null,null,null,"generic"]]\n'
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply.encode())

            def log_message(self, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self_signed(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def said(self) -> list[list[Any]]:
        """The [text, lang, speed, "null"] parameter of every request, as gTTS packs it."""
        out = []
        for request in self.requests:
            rpc = json.loads(parse_qs(request["body"])["f.req"][0])
            assert rpc[0][0][0] == "jQ1olc"
            out.append(json.loads(rpc[0][0][1]))
        return out

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def google(tmp_path: Path, tone_mp3: bytes) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(tmp_path, tone_mp3)
    yield fake
    fake.close()


@pytest.fixture
def closed_port() -> str:
    """An https URL where nothing listens: the connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"https://127.0.0.1:{port}"


def test_gtts_posts_each_cue_and_its_audio_is_used(
    google: FakeGoogle, tiny: Catalog, tone_mp3: bytes, tmp_path: Path
) -> None:
    engine = GttsEngine(base_url=google.url, timeout=5)
    result = build(tiny, engine, tmp_path / "out", cache_dir=tmp_path / "cache")
    texts = sorted({cue.text for script in tiny.scripts for cue in script.cues})
    assert sorted(p[0] for p in google.said()) == texts  # one request per distinct cue
    assert all(p[1:] == ["en", None, "null"] for p in google.said())
    for request in google.requests:
        assert request["path"] == TTS_PATH
        assert request["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
        assert request["headers"]["Host"] == google.url.removeprefix("https://")
    cached = sorted((tmp_path / "cache" / "gtts").iterdir())
    assert len(cached) == len(texts) and all(p.read_bytes() == tone_mp3 for p in cached)
    for script in tiny.scripts:
        clip = result.manifest.clips[script.id]
        assert clip.engine == "gtts"
        assert_alexa_clip(tmp_path / "out" / clip.file, script.length_s)
    again = build(tiny, engine, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert again.did_nothing and len(google.requests) == len(texts)


@pytest.mark.parametrize("failure", ["timeout", "refused", "503"])
def test_gtts_that_cannot_speak_is_one_clear_error(
    failure: str, google: FakeGoogle, closed_port: str, tiny: Catalog, tmp_path: Path
) -> None:
    google.mode = "silent" if failure == "timeout" else failure
    url = closed_port if failure == "refused" else google.url
    engine = GttsEngine(base_url=url, timeout=0.5)
    with pytest.raises(EngineUnavailable) as caught:
        build(tiny, engine, tmp_path / "out", cache_dir=tmp_path / "cache")
    message = str(caught.value)
    expected = {"timeout": "no answer within 0.5 s", "refused": "could not connect"}
    assert message == f"Google Text-to-Speech at {url}: {expected.get(failure, 'HTTP 503')}"
    assert len(google.requests) == (0 if failure == "refused" else 1)  # tried once, not per cue
    assert not list(tmp_path.glob("cache/**/*.*")), "no empty or partial cue left behind"


def test_auto_falls_back_to_espeak_when_google_times_out(
    google: FakeGoogle, tiny: Catalog, tmp_path: Path
) -> None:
    google.mode = "silent"
    engine = AutoEngine((GttsEngine(base_url=google.url, timeout=0.5), EspeakEngine()))
    notes: list[str] = []
    out, cache = tmp_path / "out", tmp_path / "cache"
    result = build(tiny, engine, out, cache_dir=cache, on_note=notes.append)
    assert notes[0] == (
        f"Google Text-to-Speech at {google.url}: no answer within 0.5 s; using espeak instead."
    )
    assert not any("Google" in note for note in notes[1:])  # said once
    assert len(google.requests) == 1  # asked once, not once per cue
    assert result.engine == "espeak" and len(result.rendered) == 2
    for script in tiny.scripts:
        clip = result.manifest.clips[script.id]
        assert clip.engine == "espeak"
        assert_alexa_clip(out / clip.file, script.length_s)


def test_auto_offline_after_an_espeak_build_has_nothing_to_do(
    built: tuple[BuildResult, Path], closed_port: str, tiny: Catalog, tmp_path: Path
) -> None:
    first, root = built
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    engine = AutoEngine((GttsEngine(base_url=closed_port, timeout=0.5), EspeakEngine()))
    notes: list[str] = []
    result = build(
        tiny, engine, tmp_path / "out", cache_dir=tmp_path / "cache", on_note=notes.append
    )
    assert notes == ["All 2 clips are up to date (espeak): nothing to do."], (
        "a library already built by one of auto's engines needs no network at all"
    )
    assert result.did_nothing and result.manifest == first.manifest


def test_the_cli_reports_an_unreachable_google_in_one_line(
    closed_port: str, tiny_dir: Path, tmp_path: Path
) -> None:
    args = ["--engine", "gtts", "--gtts-url", closed_port, "--data-dir", str(tiny_dir)]
    args += ["--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")]
    result = CliRunner().invoke(build_command, args)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: Google Text-to-Speech at {closed_port}: could not connect; build offline with "
        "--engine espeak, or use --engine auto to fall back."
    ]
