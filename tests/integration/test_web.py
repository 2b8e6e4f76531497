"""The web endpoint over real HTTP: werkzeug's server on loopback, http.client as Alexa.

The verifier's rules are unit-tested in test_verification.py; here each broken rule goes through
the whole edge (headers as HTTP carries them, the raw body, Flask's routing and error handlers) and
must come back as a 400 with a JSON body, never a 500, with the right reason in the log.
`trust-guide serve` is run as a real process too.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alexa_signing import (
    CERT_URL,
    SKILL_ID,
    Authority,
    PemServer,
    chain_pem,
    encode,
    make_ca,
    make_signing_cert,
    rsa_key,
    sign,
)
from werkzeug.serving import make_server

from skill.builder import build_skill
from skill.config import Settings
from skill.envelopes import Listener, intent_request, launch_request, new_session_id
from skill.verification import RequestVerifier
from skill.web import MAX_BODY_BYTES, create_app

pytestmark = pytest.mark.integration

ECHO = "https://s3.amazonaws.com/echo.api/"
UNTRUSTED_URL = ECHO + "untrusted.pem"
EXPIRED_URL = ECHO + "expired.pem"
WRONG_NAME_URL = ECHO + "wrong-name.pem"
# The first frame header of a 48 kbps, 24 kHz mono MPEG-2 Layer III file, then silence.
MP3_BYTES = b"\xff\xf3\x64\xc4" + bytes(140)
SECRET = b"not for the web"


# --- a private PKI, shaped like Amazon's --------------------------------------------------------


@pytest.fixture(scope="module")
def root() -> Authority:
    return make_ca("Web Test Root CA")


@pytest.fixture(scope="module")
def chains(root: Authority) -> dict[str, bytes]:
    """URL -> PEM: the good chain, and one per way a chain can be wrong."""
    stranger = make_ca("Stranger Root CA")  # not among the trust roots
    now = datetime.now(UTC)
    return {
        CERT_URL: chain_pem(make_signing_cert(root)),
        UNTRUSTED_URL: chain_pem(make_signing_cert(stranger)),
        EXPIRED_URL: chain_pem(
            make_signing_cert(
                root, not_before=now - timedelta(days=60), not_after=now - timedelta(days=1)
            )
        ),
        WRONG_NAME_URL: chain_pem(make_signing_cert(root, dns_name="echo-api.example.com")),
    }


@pytest.fixture
def pem_server(chains: dict[str, bytes]) -> PemServer:
    """Serves the chains by URL and counts fetches (the verifier's injected `fetch`)."""
    return PemServer(dict(chains))


# --- the app on a real socket ---------------------------------------------------------------


@dataclass
class Endpoint:
    """A running server and a way to talk to it."""

    port: int

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        chunked: bool = False,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            all_headers = {"Content-Type": "application/json", **(headers or {})}
            if chunked:
                conn.request(method, path, iter([body or b""]), all_headers, encode_chunked=True)
            else:
                conn.request(method, path, body, all_headers)
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def post(self, body: bytes, headers: dict[str, str] | None = None, **kw: Any):
        return self.call("POST", "/", body, headers, **kw)

    def get(self, path: str):
        return self.call("GET", path)


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    folder.mkdir()
    (folder / "breathing-60.mp3").write_bytes(MP3_BYTES)
    (folder / "notes.txt").write_text("not audio")
    (tmp_path / "secret.mp3").write_bytes(SECRET)  # beside the audio folder, not in it
    return folder


@pytest.fixture
def serve(
    tmp_path: Path, audio_dir: Path
) -> Iterator[Callable[[RequestVerifier | None], Endpoint]]:
    """serve(verifier): the app on 127.0.0.1 and a free port, in a background thread."""
    servers = []

    def start(verifier: RequestVerifier | None, skill_id: str | None = None) -> Endpoint:
        skill = build_skill(Settings(store=f"sqlite:///{tmp_path}/p.db", skill_id=skill_id))
        app = create_app(skill, verifier, audio_dir=audio_dir)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return Endpoint(server.server_port)

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def endpoint(serve, root: Authority, pem_server: PemServer) -> Endpoint:
    return serve(RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=pem_server))


@pytest.fixture
def open_endpoint(serve) -> Endpoint:
    """The --no-verify mode: no verifier at all."""
    return serve(None)


# --- requests -------------------------------------------------------------------------------


def envelope(
    request: dict[str, Any] | None = None,
    *,
    moment: datetime | None = None,
    skill_id: str = SKILL_ID,
) -> dict[str, Any]:
    """A real-shaped envelope (skill.envelopes) for this skill, stamped `moment` (default now)."""
    event = Listener(application_id=skill_id).envelope(
        request or launch_request(), new_session_id(), True
    )
    if moment is not None:
        event["request"]["timestamp"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def signed(body: bytes, cert_url: str = CERT_URL, key: str = "signer") -> dict[str, str]:
    return sign(body, rsa_key(key), cert_url)


def signed_request(**kw: Any) -> tuple[bytes, dict[str, str]]:
    body = encode(envelope(**kw))
    return body, signed(body)


def assert_refused(
    result: tuple[int, http.client.HTTPMessage, bytes],
    caplog: pytest.LogCaptureFixture | None = None,
    reason: str | None = None,
) -> None:
    status, headers, body = result
    assert status == 400, f"expected 400, got {status}: {body[:300]!r}"
    assert headers.get_content_type() == "application/json", headers
    assert json.loads(body)["error"], body
    if reason is not None and caplog is not None:
        logged = [r.getMessage() for r in caplog.records if r.name == "skill.web"]
        assert any(reason in line for line in logged), logged


def speech_of(body: bytes) -> str:
    response = json.loads(body)["response"]
    return response["outputSpeech"]["ssml"]


# --- a genuine request ----------------------------------------------------------------------


def test_signed_launch_request_is_answered_with_speech(
    endpoint: Endpoint, pem_server: PemServer
) -> None:
    body, headers = signed_request()
    status, response_headers, answer = endpoint.post(body, headers)
    assert status == 200, answer
    assert response_headers.get_content_type() == "application/json"
    assert "Welcome to Trust Guide" in speech_of(answer)
    assert json.loads(answer)["response"]["shouldEndSession"] is False
    assert pem_server.calls == [CERT_URL]


def test_signed_intent_request_is_answered(endpoint: Endpoint) -> None:
    body, headers = signed_request(request=intent_request("AMAZON.HelpIntent"))
    status, _, answer = endpoint.post(body, headers)
    assert status == 200, answer
    assert speech_of(answer).startswith("<speak>")


def test_chain_is_fetched_once_for_many_requests(endpoint: Endpoint, pem_server: PemServer) -> None:
    for _ in range(8):
        body, headers = signed_request()
        status, _, answer = endpoint.post(body, headers)
        assert status == 200, answer
    assert pem_server.calls == [CERT_URL]


def test_concurrent_requests_fetch_the_chain_and_all_pass(
    endpoint: Endpoint, pem_server: PemServer
) -> None:
    """Threads racing on an empty cache may each fetch, but every request passes."""
    requests = [signed_request() for _ in range(8)]
    results: list[int] = []

    def send(body: bytes, headers: dict[str, str]) -> None:
        results.append(endpoint.post(body, headers)[0])

    threads = [threading.Thread(target=send, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [200] * len(requests)
    assert 1 <= len(pem_server.calls) <= len(requests)
    assert set(pem_server.calls) == {CERT_URL}


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain"],
)
def test_signature_is_checked_over_the_raw_body_whatever_the_content_type(
    endpoint: Endpoint, content_type: str
) -> None:
    """Flask must not parse a form out of the body before the signature sees it; non-ASCII
    bytes (an utterance with accents) are signed and checked as sent."""
    event = envelope(intent_request("AMAZON.HelpIntent"))
    event["session"]["attributes"] = {"note": "café — naïve & ünïcode = yes"}
    body = json.dumps(event, ensure_ascii=False).encode("utf-8")
    headers = {**signed(body), "Content-Type": content_type}
    status, _, answer = endpoint.post(body, headers)
    assert status == 200, answer


@pytest.mark.parametrize("skew", [-140, 140], ids=["140s-old", "140s-ahead"])
def test_timestamp_inside_the_window_is_accepted(endpoint: Endpoint, skew: int) -> None:
    body, headers = signed_request(moment=datetime.now(UTC) + timedelta(seconds=skew))
    status, _, answer = endpoint.post(body, headers)
    assert status == 200, answer


# --- every broken rule is a 400 ------------------------------------------------------------


def _without(name: str) -> Callable[[], tuple[bytes, dict[str, str]]]:
    def make() -> tuple[bytes, dict[str, str]]:
        body, headers = signed_request()
        del headers[name]
        return body, headers

    return make


def _signed_at(url: str) -> Callable[[], tuple[bytes, dict[str, str]]]:
    def make() -> tuple[bytes, dict[str, str]]:
        body = encode(envelope())
        return body, signed(body, cert_url=url)

    return make


def _by_intruder() -> tuple[bytes, dict[str, str]]:
    body = encode(envelope())
    return body, signed(body, key="intruder")


def _changed_after_signing() -> tuple[bytes, dict[str, str]]:
    body, headers = signed_request(request=intent_request("AMAZON.HelpIntent"))
    return body.replace(b"AMAZON.HelpIntent", b"AMAZON.StopIntent"), headers


def _stamped(seconds: int) -> Callable[[], tuple[bytes, dict[str, str]]]:
    return lambda: signed_request(moment=datetime.now(UTC) + timedelta(seconds=seconds))


def _other_skill() -> tuple[bytes, dict[str, str]]:
    return signed_request(skill_id="amzn1.ask.skill.00000000-0000-0000-0000-0000000000ff")


def _signed_body(body: bytes) -> Callable[[], tuple[bytes, dict[str, str]]]:
    return lambda: (body, signed(body))


BROKEN = {
    "missing-Signature-256": (_without("Signature-256"), "Signature-256 header missing"),
    "missing-SignatureCertChainUrl": (
        _without("SignatureCertChainUrl"),
        "SignatureCertChainUrl header missing",
    ),
    "signature-by-another-key": (_by_intruder, "signature does not match body"),
    "body-changed-after-signing": (_changed_after_signing, "signature does not match body"),
    "url-http-scheme": (
        _signed_at("http://s3.amazonaws.com/echo.api/echo-api-cert.pem"),
        "scheme is not https",
    ),
    "url-wrong-host": (
        _signed_at("https://notamazon.com/echo.api/echo-api-cert.pem"),
        "host is not s3.amazonaws.com",
    ),
    "url-host-suffix": (
        _signed_at("https://s3.amazonaws.com.evil.example/echo.api/echo-api-cert.pem"),
        "host is not s3.amazonaws.com",
    ),
    "url-path-outside": (
        _signed_at("https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem"),
        "path is not under /echo.api/",
    ),
    "url-path-dot-dot": (
        _signed_at("https://s3.amazonaws.com/echo.api/../echo-api-cert.pem"),
        "path is not under /echo.api/",
    ),
    "url-path-climbs-out": (
        _signed_at("https://s3.amazonaws.com/echo.api/../x"),
        "path is not under /echo.api/",
    ),
    "url-port-563": (
        _signed_at("https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem"),
        "port is not 443",
    ),
    "untrusted-chain": (_signed_at(UNTRUSTED_URL), "certificate chain not trusted"),
    "expired-certificate": (_signed_at(EXPIRED_URL), "signing certificate expired"),
    "wrong-san-name": (_signed_at(WRONG_NAME_URL), "certificate chain not trusted"),
    "chain-not-found": (_signed_at(ECHO + "missing.pem"), "could not be fetched"),
    "stale-timestamp": (_stamped(-155), "timestamp too old"),
    "future-timestamp": (_stamped(155), "timestamp in the future"),
    "wrong-skill-id": (_other_skill, "skill id does not match"),
    "signed-non-json-body": (_signed_body(b"this is not json"), "body is not JSON"),
    "signed-json-array": (_signed_body(b"[1, 2, 3]"), "body is not a JSON object"),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_each_broken_rule_is_refused_with_400(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    make, reason = BROKEN[case]
    body, headers = make()
    assert_refused(endpoint.post(body, headers), caplog, reason)


def test_url_rules_are_checked_before_any_fetch(endpoint: Endpoint, pem_server: PemServer) -> None:
    for case in ("url-http-scheme", "url-wrong-host", "url-path-climbs-out", "url-port-563"):
        body, headers = BROKEN[case][0]()
        assert_refused(endpoint.post(body, headers))
    assert pem_server.calls == []


def test_refusals_do_not_poison_the_cache(endpoint: Endpoint) -> None:
    """A forged request on the good URL, then a genuine one: the genuine one still passes."""
    assert_refused(endpoint.post(*_by_intruder()))
    body, headers = signed_request()
    assert endpoint.post(body, headers)[0] == 200


def test_signed_envelope_without_a_request_type_is_refused(endpoint: Endpoint) -> None:
    """Genuinely signed, passes verification, but ask-sdk cannot read it: still a 400."""
    event = envelope()
    del event["request"]["type"]
    body = encode(event)
    assert_refused(endpoint.post(body, signed(body)))


def test_signed_request_of_a_type_newer_than_the_sdk_gets_an_empty_answer(
    endpoint: Endpoint,
) -> None:
    """Alexa adds request types; a genuine one ask-sdk-model cannot read is answered, empty."""
    body, headers = signed_request(request={"type": "Alexa.Presentation.Future.Event"})
    status, _, answer = endpoint.post(body, headers)
    assert status == 200, answer
    assert json.loads(answer)["response"] == {}


def test_oversized_body_is_refused(endpoint: Endpoint) -> None:
    event = envelope()
    event["session"]["attributes"] = {"padding": "x" * (MAX_BODY_BYTES + 1024)}
    body = encode(event)
    assert len(body) > MAX_BODY_BYTES
    assert_refused(endpoint.post(body, signed(body)))


def test_oversized_chunked_body_is_refused(endpoint: Endpoint) -> None:
    """No Content-Length to check up front: the limit must hold while streaming too."""
    event = envelope()
    event["session"]["attributes"] = {"padding": "x" * (MAX_BODY_BYTES + 1024)}
    body = encode(event)
    assert_refused(endpoint.post(body, signed(body), chunked=True))


def test_body_just_under_the_limit_is_accepted(endpoint: Endpoint) -> None:
    event = envelope()
    event["session"]["attributes"] = {"padding": ""}
    filler = MAX_BODY_BYTES - len(encode(event)) - 16
    event["session"]["attributes"]["padding"] = "x" * filler
    body = encode(event)
    assert MAX_BODY_BYTES - 64 < len(body) <= MAX_BODY_BYTES
    status, _, answer = endpoint.post(body, signed(body))
    assert status == 200, answer


def test_get_on_the_alexa_route_is_not_allowed(endpoint: Endpoint) -> None:
    assert endpoint.get("/")[0] == 405


# --- health and audio -----------------------------------------------------------------------


def test_healthz_answers(endpoint: Endpoint) -> None:
    status, headers, body = endpoint.get("/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}


def test_audio_clip_is_served_as_mpeg(endpoint: Endpoint) -> None:
    status, headers, body = endpoint.get("/audio/breathing-60.mp3")
    assert status == 200
    assert headers.get_content_type() == "audio/mpeg"
    assert body == MP3_BYTES


@pytest.mark.parametrize(
    "path",
    [
        "/audio/missing.mp3",
        "/audio/notes.txt",  # exists, but only MP3 is served
        "/audio/../secret.mp3",
        "/audio/..%2fsecret.mp3",
        "/audio/%2e%2e/secret.mp3",
        "/audio/%2e%2e%2fsecret.mp3",
        "/audio/..\\secret.mp3",
    ],
)
def test_audio_outside_the_clips_is_not_found(endpoint: Endpoint, path: str) -> None:
    status, _, body = endpoint.get(path)
    assert status == 404, (status, body[:200])
    assert SECRET not in body


# --- the --no-verify mode -------------------------------------------------------------------


def test_no_verify_answers_an_unsigned_envelope(open_endpoint: Endpoint) -> None:
    status, _, answer = open_endpoint.post(encode(envelope()))
    assert status == 200, answer
    assert "Welcome to Trust Guide" in speech_of(answer)


@pytest.mark.parametrize("body", [b"not json", b"{truncated", b"\xff\xfe"])
def test_no_verify_refuses_a_body_that_is_not_json(open_endpoint: Endpoint, body: bytes) -> None:
    assert_refused(open_endpoint.post(body))


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b'{"request": {}}'])
def test_no_verify_refuses_json_that_is_not_an_envelope(
    open_endpoint: Endpoint, body: bytes
) -> None:
    assert_refused(open_endpoint.post(body))


@pytest.mark.parametrize("body", [b'{"hello": "world"}', b"null", b"{}"])
def test_no_verify_refuses_json_without_a_request(open_endpoint: Endpoint, body: bytes) -> None:
    assert_refused(open_endpoint.post(body))


def test_no_verify_still_refuses_another_skills_request_when_a_skill_id_is_set(serve) -> None:
    """TRUST_GUIDE_SKILL_ID holds with verification off too (the skill checks it itself)."""
    ours = serve(None, skill_id=SKILL_ID)
    status, _, answer = ours.post(encode(envelope()))
    assert status == 200 and "Welcome to Trust Guide" in speech_of(answer), answer
    theirs = serve(None, skill_id="amzn1.ask.skill.someone-else")
    assert_refused(theirs.post(encode(envelope())))


# --- `trust-guide serve` as a process -------------------------------------------------------


def _serve_command(*args: str) -> list[str]:
    """The installed `trust-guide` script beside this interpreter, else the same CLI by -m."""
    script = Path(sys.executable).with_name("trust-guide")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "skill.cli"]
    return [*command, "serve", *args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_without_a_skill_id_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "TRUST_GUIDE_STORE": f"sqlite:///{tmp_path}/p.db"}
    env.pop("TRUST_GUIDE_SKILL_ID", None)
    done = subprocess.run(
        _serve_command("--port", str(_free_port())),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    assert "TRUST_GUIDE_SKILL_ID" in errors[0]
    assert "--no-verify" in errors[0]


def test_serve_no_verify_warns_and_answers_healthz(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "TRUST_GUIDE_STORE": f"sqlite:///{tmp_path}/p.db"}
    env.pop("TRUST_GUIDE_SKILL_ID", None)
    stderr_path = tmp_path / "serve.err"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            _serve_command("--no-verify", "--port", str(port)),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        endpoint = Endpoint(port)
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, stderr_path.read_text()
            try:
                status, _, body = endpoint.get("/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not come up within 20 s"
                time.sleep(0.05)
        assert status == 200
        assert json.loads(body) == {"status": "ok"}
        status, _, answer = endpoint.post(encode(envelope()))
        assert status == 200, answer
    finally:
        process.terminate()
        process.wait(timeout=10)
    warning = stderr_path.read_text()
    assert "WARNING: request verification is OFF" in warning
    assert "Traceback" not in warning
