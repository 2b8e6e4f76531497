"""Real servers for the integration tests: a local DynamoDB-compatible server (moto's server mode in
a subprocess on 127.0.0.1), started once per test session, and a `store` fixture that runs a test
against both stores (a fresh SQLite file, a fresh DynamoDB table).

The server can be stopped and started again mid-test (`dynamodb_server.stop()` / `.start()`) to
show what the skill does when its store goes away; its tables and items survive the restart (every
request is recorded and replayed into the new process by moto's own recorder). `.pause()` /
`.resume()` freeze it instead: connections are still accepted but nothing answers, as with a store
that hangs. A test that leaves it stopped or paused gets it back running afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from ask_sdk_core.attributes_manager import AbstractPersistenceAdapter

from skill.config import Settings
from skill.persistence import build_adapter

REGION = "us-east-1"
START_TIMEOUT = 30.0  # seconds for moto's server to come up (its first import is the slow part)

# boto3 reads these; each DynamoDB test gets them, no other test does.
AWS_VARIABLES = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_EC2_METADATA_DISABLED",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def point_boto3_at(monkeypatch: pytest.MonkeyPatch, endpoint: str | None, tmp: Path) -> None:
    """Give boto3 a region, fake credentials and `endpoint`, and nothing from the real machine
    (no profile, no ~/.aws files, no instance metadata)."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    if endpoint is not None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)


class LocalDynamoDB:
    """`python -m moto.server` on 127.0.0.1 and a fixed free port, as a subprocess."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.recording = workdir / "moto-recording.jsonl"
        self.log_path = workdir / "moto.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server (no-op when running) and restore what it held before a stop()."""
        if self.running:
            self.resume()
            return
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        env.update(MOTO_ENABLE_RECORDING="True", MOTO_RECORDER_FILEPATH=str(self.recording))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.paused = False
        self._wait_ready()
        if self.recording.exists() and self.recording.stat().st_size:
            self._post("/moto-api/recorder/replay-recording")

    def stop(self) -> None:
        """Stop the process: the port is closed and connections are refused until start()."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            if self.paused:
                self.process.send_signal(signal.SIGCONT)  # a stopped process cannot exit
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.paused = False

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connects succeed, requests hang until resume()."""
        if self.running and not self.paused:
            self.process.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.running and self.paused:
            self.process.send_signal(signal.SIGCONT)
            self.paused = False

    def _post(self, path: str) -> bytes:
        request = urllib.request.Request(self.url + path, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read()

    def _wait_ready(self) -> None:
        """Wait until the port accepts connections (werkzeug listens once the app is built).
        A TCP probe rather than an HTTP one: moto would record an HTTP probe and replay it."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"moto server exited ({self.process.returncode}):\n{self.tail()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"moto server not ready after {START_TIMEOUT:g} s:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="session")
def local_dynamodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDynamoDB]:
    """The session's one local DynamoDB server; started on first use, stopped at the end."""
    missing = [m for m in ("moto.server", "flask", "flask_cors") if not importlib.util.find_spec(m)]
    if missing:
        pytest.skip(f"moto's server mode needs {', '.join(missing)}: pip install 'moto[server]'")
    server = LocalDynamoDB(tmp_path_factory.mktemp("dynamodb"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str | None], None]:
    """aws_env(endpoint): point boto3 at `endpoint` (None: no endpoint) for this test only."""
    return lambda endpoint: point_boto3_at(monkeypatch, endpoint, tmp_path)


@pytest.fixture
def dynamodb_server(
    local_dynamodb: LocalDynamoDB, aws_env: Callable[[str | None], None]
) -> Iterator[LocalDynamoDB]:
    """The local server, with boto3 pointed at it for this test; running again after the test
    whatever the test did to it (stopped or paused)."""
    aws_env(local_dynamodb.url)
    yield local_dynamodb
    local_dynamodb.start()


@pytest.fixture
def dynamodb_table(dynamodb_server: LocalDynamoDB) -> Iterator[str]:
    """A fresh, empty, on-demand table made by `create_table` (as `trust-guide store create`)."""
    import boto3

    from skill.persistence.dynamodb import create_table

    name = f"trust-guide-test-{uuid.uuid4().hex[:12]}"
    create_table(name)
    yield name
    with contextlib.suppress(Exception):  # a test may have broken the server: no matter
        boto3.client("dynamodb").delete_table(TableName=name)


class Store(NamedTuple):
    """One store under test: its kind, its TRUST_GUIDE_STORE URL and an adapter on it."""

    kind: str  # "sqlite" or "dynamodb"
    url: str
    adapter: AbstractPersistenceAdapter

    @property
    def settings(self) -> Settings:
        return Settings(store=self.url)

    def another_adapter(self) -> AbstractPersistenceAdapter:
        """A second adapter on the same store: another device, or another Lambda container."""
        return build_adapter(self.url)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """Each test using it runs twice: on a fresh SQLite file and on a fresh DynamoDB table."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'progress.db'}"
    else:
        url = f"dynamodb://{request.getfixturevalue('dynamodb_table')}"
    return Store(request.param, url, build_adapter(url))
