"""Production serving under gunicorn, as the README documents it: 2 sync workers, timeout 10 s.

Two apps: tests/integration/signed_app.py (the real endpoint with a verifier that trusts a test
PKI written to a temp folder) and the real `skill.wsgi:app` with verification off. gunicorn binds
port 0 and the test reads the real port from its log, so there is no free-port race.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alexa_signing import (
    SKILL_ID,
    Authority,
    build_envelope,
    chain_pem,
    encode,
    make_ca,
    make_signing_cert,
    rsa_key,
    sign,
)
from cryptography.hazmat.primitives import serialization
from gunicorn.config import Config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORKERS = 2
TIMEOUT = 10  # seconds; the README's documented --timeout (Alexa gives up after 8 s)
BOOT_SECONDS = 30
# gunicorn 25.1+ opens a control socket at one shared default path ($XDG_RUNTIME_DIR or
# ~/.gunicorn/gunicorn.ctl); test servers must not take it from each other or from a real one.
NO_CONTROL_SOCKET = ["--no-control-socket"] if "control_socket_disable" in Config().settings else []


@dataclass
class Gunicorn:
    """A gunicorn master started by a test; its stderr (the error log) goes to a file."""

    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0
    workers: set[int] = field(default_factory=set)

    @classmethod
    def start(
        cls, app: str, log_path: Path, env: dict[str, str], *extra: str, wait: bool = True
    ) -> Gunicorn:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(WORKERS),
            "--timeout",
            str(TIMEOUT),
            "--bind",
            "127.0.0.1:0",
            "--pythonpath",
            str(HERE),
            *NO_CONTROL_SOCKET,
            *extra,
            app,
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log
            )
        server = cls(process, log_path)
        if wait:
            try:
                server.wait_ready()
            except BaseException:
                server.stop()
                raise
        return server

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def booted_workers(self) -> set[int]:
        return {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", self.log)}

    def wait_ready(self) -> None:
        """Bounded poll: the port from the log, both workers booted, /healthz answering."""
        deadline = time.monotonic() + BOOT_SECONDS
        while True:
            assert self.process.poll() is None, f"gunicorn exited:\n{self.log}"
            if not self.port:
                found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", self.log)
                self.port = int(found.group(1)) if found else 0
            if self.port and len(self.booted_workers()) >= WORKERS:
                try:
                    if self.call("GET", "/healthz")[0] == 200:
                        self.workers = self.booted_workers()
                        return
                except OSError:
                    pass
            assert time.monotonic() < deadline, (
                f"gunicorn not ready in {BOOT_SECONDS} s:\n{self.log}"
            )
            time.sleep(0.05)

    def call(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT + 10)
        try:
            conn.request(
                method, path, body, {"Content-Type": "application/json", **(headers or {})}
            )
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root.pem and chain.pem for signed_app.py; requests are signed with rsa_key('signer')."""
    folder = tmp_path_factory.mktemp("pki")
    root: Authority = make_ca("Gunicorn Test Root CA")
    (folder / "root.pem").write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    (folder / "chain.pem").write_bytes(chain_pem(make_signing_cert(root)))
    return folder


def _env(store_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_GUIDE_")}
    env["TRUST_GUIDE_STORE"] = f"sqlite:///{store_dir}/progress.db"
    env["TRUST_GUIDE_LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def signed_server(pki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    folder = tmp_path_factory.mktemp("signed")
    server = Gunicorn.start(
        "signed_app:app", folder / "gunicorn.log", _env(folder, SIGNED_APP_PKI_DIR=str(pki_dir))
    )
    try:
        yield server
    finally:
        server.stop()


def signed_launch(**envelope_args) -> tuple[bytes, dict[str, str]]:
    body = encode(build_envelope(**envelope_args))
    return body, sign(body, rsa_key("signer"))


def speech(body: bytes) -> str:
    return json.loads(body)["response"]["outputSpeech"]["ssml"]


# --- the verified endpoint under two workers ------------------------------------------------


def _send_signed(server: Gunicorn) -> tuple[int, int]:
    """One freshly signed LaunchRequest; returns (worker pid, its chain fetches so far)."""
    body, headers = signed_launch()
    status, response_headers, answer = server.call("POST", "/", body, headers)
    assert status == 200, answer
    assert "Welcome to Trust Guide" in speech(answer)
    return int(response_headers["X-Worker-Pid"]), int(response_headers["X-Chain-Fetches"])


def _hold_a_worker(server: Gunicorn, pool: ThreadPoolExecutor, seconds: float) -> Future[int]:
    """Keep one worker busy for `seconds`; the future gives its pid."""

    def hold() -> int:
        status, headers, _ = server.call("GET", f"/_test/sleep?seconds={seconds}")
        assert status == 200
        return int(headers["X-Worker-Pid"])

    future = pool.submit(hold)
    time.sleep(0.1)  # the hold is accepted by a worker before the next request is sent
    return future


def test_signed_requests_are_answered_by_both_workers(signed_server: Gunicorn) -> None:
    """Several concurrent signed requests all get 200; then, with one worker held busy at a
    time, each worker in turn must answer one, so both demonstrably serve verified requests."""
    assert len(signed_server.workers) == WORKERS
    fetches: dict[int, int] = {}  # worker pid -> the most chain fetches it reported
    with ThreadPoolExecutor(max_workers=4) as pool:
        for pid, count in pool.map(lambda _: _send_signed(signed_server), range(12)):
            fetches[pid] = max(fetches.get(pid, 0), count)

        first_hold = _hold_a_worker(signed_server, pool, 0.8)  # worker X
        y, count = _send_signed(signed_server)  # only Y is free
        fetches[y] = max(fetches.get(y, 0), count)
        second_hold = _hold_a_worker(signed_server, pool, 0.8)  # X still busy: holds Y
        x = first_hold.result(timeout=10)  # X is free again, Y is held
        answered_by, count = _send_signed(signed_server)
        fetches[answered_by] = max(fetches.get(answered_by, 0), count)
        assert second_hold.result(timeout=10) == y
    assert answered_by == x != y, (x, y, answered_by)
    assert {x, y} == signed_server.workers
    # Each worker fetched the chain once and answered every later request from its cache.
    assert fetches == {x: 1, y: 1}, fetches


@pytest.mark.parametrize(
    "case",
    ["unsigned", "forged", "stale", "wrong-skill", "not-json", "oversized"],
)
def test_bad_requests_are_refused_with_400(signed_server: Gunicorn, case: str) -> None:
    body, headers = signed_launch()
    if case == "unsigned":
        headers = {}
    elif case == "forged":
        headers = sign(body, rsa_key("intruder"))
    elif case == "stale":
        body, headers = signed_launch(timestamp=datetime.now(UTC) - timedelta(seconds=200))
    elif case == "wrong-skill":
        body, headers = signed_launch(app_id="amzn1.ask.skill.someone-else")
    elif case == "not-json":
        body = b"<xml/>"
        headers = sign(body, rsa_key("signer"))
    elif case == "oversized":
        event = build_envelope()
        event["session"]["attributes"] = {"padding": "x" * (200 * 1024)}
        body = encode(event)
        headers = sign(body, rsa_key("signer"))
    status, response_headers, answer = signed_server.call("POST", "/", body, headers)
    assert status == 400, (status, answer[:200])
    assert json.loads(answer)["error"]


def test_worker_timeout_is_honoured(signed_server: Gunicorn) -> None:
    """A request that hangs past --timeout loses its worker (killed and replaced); the other
    worker keeps answering meanwhile. Takes about TIMEOUT seconds."""
    before = signed_server.booted_workers()
    outcome: dict[str, object] = {}

    def hang() -> None:
        start = time.monotonic()
        try:
            outcome["status"] = signed_server.call("GET", f"/_test/sleep?seconds={TIMEOUT * 3}")[0]
        except (http.client.HTTPException, OSError) as exc:
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - start

    hanging = threading.Thread(target=hang)
    hanging.start()
    time.sleep(0.2)  # let the hanging request reach a worker
    body, headers = signed_launch()
    status, response_headers, answer = signed_server.call("POST", "/", body, headers)
    assert status == 200, answer  # the other worker is still serving
    hanging.join(timeout=TIMEOUT * 2)
    assert not hanging.is_alive(), "the hanging request outlived twice the worker timeout"
    # No answer came back: gunicorn 27 sends a bare 500 as it aborts the worker; older
    # releases just drop the connection.
    assert outcome.get("status", 500) == 500, outcome
    # The arbiter checks about once a second: killed between TIMEOUT and TIMEOUT + ~2 s.
    assert TIMEOUT - 0.5 <= outcome["seconds"] <= TIMEOUT + 3, outcome
    assert "WORKER TIMEOUT" in signed_server.log
    deadline = time.monotonic() + BOOT_SECONDS
    while len(signed_server.booted_workers() - before) < 1:
        assert time.monotonic() < deadline, signed_server.log
        time.sleep(0.05)
    assert signed_server.process.poll() is None


def test_sigterm_shuts_down_cleanly_after_the_request_in_flight(
    pki_dir: Path, tmp_path: Path
) -> None:
    server = Gunicorn.start(
        "signed_app:app", tmp_path / "gunicorn.log", _env(tmp_path, SIGNED_APP_PKI_DIR=str(pki_dir))
    )
    try:
        body, headers = signed_launch()
        assert server.call("POST", "/", body, headers)[0] == 200
        in_flight: dict[str, int] = {}
        thread = threading.Thread(
            target=lambda: in_flight.update(status=server.call("GET", "/_test/sleep?seconds=1")[0])
        )
        thread.start()
        time.sleep(0.2)  # the request has reached a worker
        server.process.send_signal(signal.SIGTERM)
        returncode = server.process.wait(timeout=TIMEOUT)
        thread.join(timeout=5)
    finally:
        server.stop()
    assert returncode == 0, server.log
    assert in_flight.get("status") == 200, server.log  # graceful: finished, not cut off
    assert "Shutting down: Master" in server.log
    assert "Traceback" not in server.log


# --- the real skill.wsgi:app ----------------------------------------------------------------


def test_real_wsgi_app_without_verification_answers(tmp_path: Path) -> None:
    server = Gunicorn.start(
        "skill.wsgi:app", tmp_path / "gunicorn.log", _env(tmp_path, TRUST_GUIDE_VERIFY="0")
    )
    try:
        status, _, body = server.call("GET", "/healthz")
        assert status == 200
        assert json.loads(body) == {"status": "ok"}
        status, _, answer = server.call("POST", "/", encode(build_envelope()))
        assert status == 200, answer
        assert "Welcome to Trust Guide" in speech(answer)
    finally:
        assert server.stop() == 0, server.log
    assert "REQUEST VERIFICATION IS OFF" in server.log


def test_real_wsgi_app_refuses_to_boot_without_a_skill_id(tmp_path: Path) -> None:
    """Verification on (the default) and no TRUST_GUIDE_SKILL_ID: no worker boots, so an
    unverified endpoint can never be served by mistake."""
    server = Gunicorn.start("skill.wsgi:app", tmp_path / "gunicorn.log", _env(tmp_path), wait=False)
    try:
        returncode = server.process.wait(timeout=BOOT_SECONDS)
    finally:
        server.stop()
    assert returncode != 0
    assert "TRUST_GUIDE_SKILL_ID is required" in server.log


def test_real_wsgi_app_with_a_skill_id_refuses_unsigned_requests(tmp_path: Path) -> None:
    server = Gunicorn.start(
        "skill.wsgi:app", tmp_path / "gunicorn.log", _env(tmp_path, TRUST_GUIDE_SKILL_ID=SKILL_ID)
    )
    try:
        status, _, answer = server.call("POST", "/", encode(build_envelope()))
    finally:
        assert server.stop() == 0, server.log
    assert status == 400, answer
