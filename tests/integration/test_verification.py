"""RequestVerifier against a real private PKI: real certificates, real signatures, no mocks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alexa_signing import (
    CERT_URL,
    SKILL_ID,
    Authority,
    PemServer,
    build_envelope,
    chain_pem,
    encode,
    make_ca,
    make_signing_cert,
    rsa_key,
    sign,
)
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from skill.verification import RequestVerifier, VerificationError

NOW = datetime.now(UTC).replace(microsecond=0)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def root() -> Authority:
    return make_ca("Test Root CA", now=NOW)


@pytest.fixture(scope="module")
def leaf(root: Authority) -> x509.Certificate:
    return make_signing_cert(root)


@pytest.fixture
def server(leaf: x509.Certificate) -> PemServer:
    return PemServer({CERT_URL: chain_pem(leaf)})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(root: Authority, server: PemServer, clock: Clock) -> RequestVerifier:
    return RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=server, clock=clock)


def signed(envelope: dict[str, Any] | None = None, **sign_args: Any) -> tuple[dict, bytes]:
    """Headers and body of a request signed by the default signing key."""
    body = encode(envelope if envelope is not None else build_envelope(NOW))
    return sign(body, rsa_key("signer"), **sign_args), body


def reason_of(verifier: RequestVerifier, headers: dict[str, str], body: bytes) -> str:
    with pytest.raises(VerificationError) as caught:
        verifier.verify(headers, body)
    return caught.value.reason


def test_valid_request_returns_envelope(verifier: RequestVerifier) -> None:
    envelope = build_envelope(NOW)
    headers, body = signed(envelope)
    assert verifier.verify(headers, body) == envelope, "a correctly signed request was refused"


def test_header_names_are_case_insensitive(verifier: RequestVerifier) -> None:
    headers, body = signed()
    lowered = {name.lower(): value for name, value in headers.items()}
    assert verifier.verify(lowered, body)["request"]["type"] == "LaunchRequest"


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        ("SignatureCertChainUrl", "SignatureCertChainUrl header missing"),
        ("Signature-256", "Signature-256 header missing"),
    ],
)
def test_missing_header_is_refused(verifier: RequestVerifier, missing: str, reason: str) -> None:
    headers, body = signed()
    del headers[missing]
    assert reason_of(verifier, headers, body) == reason


def test_signature_that_is_not_base64_is_refused(verifier: RequestVerifier) -> None:
    headers, body = signed()
    headers["Signature-256"] = "not*base64!"
    assert reason_of(verifier, headers, body) == "signature is not base64"


def test_signature_by_another_key_is_refused(verifier: RequestVerifier) -> None:
    body = encode(build_envelope(NOW))
    headers = sign(body, rsa_key("intruder"))
    assert reason_of(verifier, headers, body) == "signature does not match body"


def test_body_changed_after_signing_is_refused(verifier: RequestVerifier) -> None:
    headers, body = signed()
    tampered = body.replace(b"LaunchRequest", b"IntentRequest")
    assert tampered != body, "the tamper did not change the body"
    assert reason_of(verifier, headers, tampered) == "signature does not match body"


@pytest.mark.parametrize(
    "url",
    [
        "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
        "https://s3.amazonaws.com:443/echo.api/echo-api-cert.pem",
        "https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert.pem",
        "HTTPS://S3.AmazonAWS.com/echo.api/echo-api-cert.pem",
    ],
)
def test_valid_cert_urls_pass(
    verifier: RequestVerifier, server: PemServer, leaf: x509.Certificate, url: str
) -> None:
    server.documents[url] = chain_pem(leaf)
    headers, body = signed(cert_url=url)
    assert verifier.verify(headers, body), f"valid cert url refused: {url}"
    assert server.calls == [url], "the chain was not fetched from the URL in the header"


SCHEME, HOST, PORT, PATH = (
    "cert url scheme is not https",
    "cert url host is not s3.amazonaws.com",
    "cert url port is not 443",
    "cert url path is not under /echo.api/",
)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://s3.amazonaws.com/echo.api/echo-api-cert.pem", SCHEME),
        ("https://notamazon.com/echo.api/echo-api-cert.pem", HOST),
        ("https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem", PATH),
        ("https://s3.amazonaws.com/invalid.path/echo-api-cert.pem", PATH),
        ("https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem", PORT),
        ("https://s3.amazonaws.com/echo.api/../x/echo-api-cert.pem", PATH),
        ("https://s3.amazonaws.com/echo.api", PATH),
        ("https://me@s3.amazonaws.com/echo.api/echo-api-cert.pem", HOST),
        ("https://s3.amazonaws.com.evil.com/echo.api/x.pem", HOST),
        ("https://s3.amazonaws.com:99999/echo.api/x.pem", "cert url malformed"),
    ],
)
def test_invalid_cert_urls_are_refused_before_fetching(
    verifier: RequestVerifier, server: PemServer, url: str, reason: str
) -> None:
    headers, body = signed(cert_url=url)
    assert reason_of(verifier, headers, body) == reason
    assert server.calls == [], f"fetched from a refused URL: {url}"


def test_chain_from_an_untrusted_root_is_refused(root: Authority, clock: Clock) -> None:
    other_root = make_ca("Impostor Root CA", now=NOW)
    server = PemServer({CERT_URL: chain_pem(make_signing_cert(other_root))})
    verifier = RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=server, clock=clock)
    headers, body = signed()
    assert reason_of(verifier, headers, body).startswith("certificate chain not trusted")


def test_default_trust_roots_do_not_trust_a_private_root(server: PemServer, clock: Clock) -> None:
    verifier = RequestVerifier(SKILL_ID, fetch=server, clock=clock)
    headers, body = signed()
    assert reason_of(verifier, headers, body).startswith("certificate chain not trusted")


@pytest.mark.parametrize(
    ("not_before", "not_after", "reason"),
    [
        (NOW - timedelta(days=30), NOW - timedelta(hours=1), "signing certificate expired"),
        (NOW + timedelta(hours=1), NOW + timedelta(days=30), "signing certificate not yet valid"),
    ],
)
def test_leaf_outside_its_validity_is_refused(
    root: Authority, clock: Clock, not_before: datetime, not_after: datetime, reason: str
) -> None:
    leaf = make_signing_cert(root, not_before=not_before, not_after=not_after)
    server = PemServer({CERT_URL: chain_pem(leaf)})
    verifier = RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=server, clock=clock)
    headers, body = signed()
    assert reason_of(verifier, headers, body) == reason


def test_leaf_for_another_name_is_refused(root: Authority, clock: Clock) -> None:
    leaf = make_signing_cert(root, dns_name="echo-api.amazon.com.evil.com")
    server = PemServer({CERT_URL: chain_pem(leaf)})
    verifier = RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=server, clock=clock)
    headers, body = signed()
    with pytest.raises(VerificationError) as caught:
        verifier.verify(headers, body)
    assert caught.value.reason == "certificate chain not trusted"
    assert "subjectAltName" in str(caught.value.__cause__), "refused, but not for its name"


def test_leaf_without_server_auth_eku_is_refused(root: Authority, clock: Clock) -> None:
    """Pins the ServerVerifier choice: an EKU, when present, must include serverAuth."""
    leaf = make_signing_cert(root, ekus=[ExtendedKeyUsageOID.CLIENT_AUTH])
    server = PemServer({CERT_URL: chain_pem(leaf)})
    verifier = RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=server, clock=clock)
    headers, body = signed()
    with pytest.raises(VerificationError) as caught:
        verifier.verify(headers, body)
    assert caught.value.reason == "certificate chain not trusted"
    assert "EKU" in str(caught.value.__cause__), "refused, but not for its key usage"


def test_chain_with_intermediate_passes(root: Authority, clock: Clock) -> None:
    intermediate = make_ca("Test Intermediate CA", issuer=root, now=NOW)
    leaf = make_signing_cert(intermediate)
    server = PemServer({CERT_URL: chain_pem(leaf, intermediate.cert)})
    verifier = RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=server, clock=clock)
    headers, body = signed()
    assert verifier.verify(headers, body), "a leaf under a served intermediate was refused"


def test_chain_missing_its_intermediate_is_refused(root: Authority, clock: Clock) -> None:
    intermediate = make_ca("Test Intermediate CA", issuer=root, now=NOW)
    server = PemServer({CERT_URL: chain_pem(make_signing_cert(intermediate))})
    verifier = RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=server, clock=clock)
    headers, body = signed()
    assert reason_of(verifier, headers, body).startswith("certificate chain not trusted")


@pytest.mark.parametrize(
    ("offset_seconds", "reason"),
    [(-151, "request timestamp too old"), (151, "request timestamp in the future")],
)
def test_timestamp_beyond_skew_is_refused(
    verifier: RequestVerifier, offset_seconds: int, reason: str
) -> None:
    headers, body = signed(build_envelope(NOW + timedelta(seconds=offset_seconds)))
    assert reason_of(verifier, headers, body) == reason


@pytest.mark.parametrize(
    "stamp",
    [
        NOW - timedelta(seconds=149),
        NOW + timedelta(seconds=149),
        (NOW - timedelta(seconds=149)).strftime("%Y-%m-%dT%H:%M:%S.123456789Z"),
        NOW.strftime("%Y-%m-%dT%H:%M:%S.5Z"),
    ],
)
def test_timestamp_within_skew_passes(verifier: RequestVerifier, stamp: datetime | str) -> None:
    headers, body = signed(build_envelope(stamp))
    assert verifier.verify(headers, body), f"timestamp {stamp} within 150 s was refused"


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [("yesterday", "request timestamp malformed"), (None, "request timestamp missing")],
)
def test_unreadable_timestamp_is_refused(
    verifier: RequestVerifier, stamp: str | None, reason: str
) -> None:
    envelope = build_envelope(NOW)
    envelope["request"]["timestamp"] = stamp
    headers, body = signed(envelope)
    assert reason_of(verifier, headers, body) == reason


def test_wrong_skill_id_is_refused(verifier: RequestVerifier) -> None:
    headers, body = signed(build_envelope(NOW, "amzn1.ask.skill.someone-else"))
    assert reason_of(verifier, headers, body) == "skill id does not match"


def test_skill_id_disagreeing_between_context_and_session_is_refused(
    verifier: RequestVerifier,
) -> None:
    envelope = build_envelope(NOW)
    envelope["session"]["application"]["applicationId"] = "amzn1.ask.skill.someone-else"
    headers, body = signed(envelope)
    assert reason_of(verifier, headers, body) == "skill id does not match"


@pytest.mark.parametrize(
    ("in_context", "in_session"), [(False, True), (True, False)], ids=["session", "context"]
)
def test_skill_id_in_one_place_passes(
    verifier: RequestVerifier, in_context: bool, in_session: bool
) -> None:
    envelope = build_envelope(NOW, in_context=in_context, in_session=in_session)
    headers, body = signed(envelope)
    assert verifier.verify(headers, body) == envelope


def test_missing_skill_id_is_refused(verifier: RequestVerifier) -> None:
    headers, body = signed(build_envelope(NOW, app_id=None))
    assert reason_of(verifier, headers, body) == "skill id missing"


def test_skill_id_check_is_skipped_when_not_configured(
    root: Authority, server: PemServer, clock: Clock
) -> None:
    verifier = RequestVerifier(None, trust_roots=[root.cert], fetch=server, clock=clock)
    headers, body = signed(build_envelope(NOW, "amzn1.ask.skill.someone-else"))
    assert verifier.verify(headers, body), "skill_id=None should skip the skill id check"


def test_empty_skill_id_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="pass None"):
        RequestVerifier("  ")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not JSON"),
        (b"\xff\xfe\x00", "body is not JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (json.dumps({"version": "1.0"}).encode(), "body has no request"),
        (json.dumps({"request": "LaunchRequest"}).encode(), "body has no request"),
    ],
)
def test_malformed_body_is_refused(verifier: RequestVerifier, body: bytes, reason: str) -> None:
    headers = sign(body, rsa_key("signer"))
    assert reason_of(verifier, headers, body) == reason


def test_unfetchable_chain_is_refused(verifier: RequestVerifier, server: PemServer) -> None:
    server.documents.clear()
    headers, body = signed()
    assert reason_of(verifier, headers, body) == "certificate chain could not be fetched"


def test_unexpected_failure_surfaces_as_verification_error(root: Authority, clock: Clock) -> None:
    def broken_fetch(url: str) -> Any:
        return None  # Not bytes: parsing it fails in a way no check anticipates.

    verifier = RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=broken_fetch, clock=clock)
    headers, body = signed()
    assert reason_of(verifier, headers, body) == "verification failed unexpectedly"


def test_chain_is_fetched_once_for_two_requests(
    verifier: RequestVerifier, server: PemServer
) -> None:
    for _ in range(2):
        headers, body = signed()
        verifier.verify(headers, body)
    assert len(server.calls) == 1, f"expected one fetch for two requests, got {server.calls}"


def test_chain_is_fetched_again_after_it_expires(
    root: Authority, clock: Clock, leaf: x509.Certificate
) -> None:
    server = PemServer({CERT_URL: chain_pem(leaf)})
    verifier = RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=server, clock=clock)
    headers, body = signed()
    verifier.verify(headers, body)

    later = leaf.not_valid_after_utc + timedelta(days=1)
    clock.now = later
    renewed = make_signing_cert(
        root, not_before=later - timedelta(days=1), not_after=later + timedelta(days=30)
    )
    server.documents[CERT_URL] = chain_pem(renewed)
    headers, body = signed(build_envelope(later))
    assert verifier.verify(headers, body), "the renewed chain was refused"
    assert len(server.calls) == 2, f"expected a refetch after expiry, got {server.calls}"


def test_expired_cached_chain_is_refused_when_not_renewed(
    verifier: RequestVerifier, server: PemServer, clock: Clock, leaf: x509.Certificate
) -> None:
    headers, body = signed()
    verifier.verify(headers, body)
    clock.now = leaf.not_valid_after_utc + timedelta(seconds=1)
    headers, body = signed(build_envelope(clock.now))
    assert reason_of(verifier, headers, body) == "signing certificate expired"
    assert len(server.calls) == 2, "an expired cached chain was not fetched again"
