"""Verification of requests sent by Alexa to a self-hosted HTTPS endpoint.

Owns Alexa's rules for web-service skills: the SignatureCertChainUrl, the certificate chain and
its echo-api.amazon.com name, the Signature-256 header, the request timestamp (within 150 s) and
the skill id. flask-ask-sdk's verifiers would do this, but they rest on oscrypto, which does not
import on OpenSSL 3.0.10 and newer, so this module does it on `cryptography`: chain validation is
cryptography's X.509 path validation (web-PKI policy), the signature check its RSA verify.

Imports only the standard library and `cryptography`: no flask, no ask_sdk. The web edge builds
one RequestVerifier at start-up and calls `verify` before handing the envelope to the skill.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import threading
import urllib.request
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import verification as x509_verification

ECHO_API_NAME = "echo-api.amazon.com"
CERT_URL_HOST = "s3.amazonaws.com"
CERT_URL_PATH_PREFIX = "/echo.api/"
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
FETCH_TIMEOUT_SECONDS = 3.0  # Alexa waits at most 8 s for the whole response.
MAX_CHAIN_BYTES = 64 * 1024  # Amazon's chain is a few kB; refuse to buffer anything large.
MAX_CACHED_CHAINS = 32  # Distinct valid URL spellings are few; bound the cache anyway.
_PEM_END = b"-----END CERTIFICATE-----"


class VerificationError(Exception):
    """The request is not provably from Alexa for this skill; answer 400 and log `reason`.

    `reason` is a short fixed phrase, safe to log: it never holds request contents or user ids.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Look a header up case-insensitively (plain dicts from tests or Lambda are not)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def check_cert_url(url: str) -> None:
    """Apply Alexa's SignatureCertChainUrl rules: https, s3.amazonaws.com, port 443, /echo.api/.

    Scheme and host compare case-insensitively; the path is case-sensitive and checked after
    normalisation, so "/echo.api/../x" cannot climb out of the folder.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise VerificationError("cert url malformed") from exc
    if parts.scheme.lower() != "https":
        raise VerificationError("cert url scheme is not https")
    if parts.hostname != CERT_URL_HOST or parts.username or parts.password:
        raise VerificationError("cert url host is not s3.amazonaws.com")
    if port not in (None, 443):
        raise VerificationError("cert url port is not 443")
    if not posixpath.normpath(parts.path).startswith(CERT_URL_PATH_PREFIX):
        raise VerificationError("cert url path is not under /echo.api/")


def decode_signature(value: str) -> bytes:
    """Decode the Signature-256 header, refusing anything that is not strict base64."""
    try:
        signature = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError("signature is not base64") from exc
    if not signature:
        raise VerificationError("signature is empty")
    return signature


def check_signature(public_key: rsa.RSAPublicKey, signature: bytes, body: bytes) -> None:
    """Check RSA PKCS#1 v1.5 with SHA-256 over the raw body bytes, as Alexa signs them."""
    try:
        public_key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise VerificationError("signature does not match body") from exc


def parse_envelope(body: bytes) -> dict[str, Any]:
    """Parse the body into a request envelope: a JSON object with a `request` object."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError.
        raise VerificationError("body is not JSON") from exc
    if not isinstance(envelope, dict):
        raise VerificationError("body is not a JSON object")
    if not isinstance(envelope.get("request"), dict):
        raise VerificationError("body has no request")
    return envelope


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def parse_timestamp(text: str) -> datetime:
    """Parse Alexa's ISO 8601 timestamp ("2026-11-26T19:55:35Z", fractions allowed).

    A timestamp without a zone is taken as UTC, which is what Alexa always sends.
    """
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_timestamp(envelope: Mapping[str, Any], now: datetime, max_skew: timedelta) -> None:
    """Reject replays: request.timestamp must be within `max_skew` of now, past or future."""
    text = _dig(envelope, "request", "timestamp")
    if not isinstance(text, str):
        raise VerificationError("request timestamp missing")
    try:
        moment = parse_timestamp(text)
    except ValueError as exc:
        raise VerificationError("request timestamp malformed") from exc
    if now - moment > max_skew:
        raise VerificationError("request timestamp too old")
    if moment - now > max_skew:
        raise VerificationError("request timestamp in the future")


def check_skill_id(envelope: Mapping[str, Any], skill_id: str) -> None:
    """Require the application id, wherever the envelope carries it, to be our skill's.

    Alexa puts it in context.System.application and, in sessions, session.application; some
    requests (AudioPlayer events) have no session. Every id present must match, and one must be.
    """
    found = [
        value
        for value in (
            _dig(envelope, "context", "System", "application", "applicationId"),
            _dig(envelope, "session", "application", "applicationId"),
        )
        if value is not None
    ]
    if not found:
        raise VerificationError("skill id missing")
    if any(value != skill_id for value in found):
        raise VerificationError("skill id does not match")


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Load every certificate in a PEM bundle, skipping the few that cryptography refuses.

    Loaded one by one, because system bundles hold a legacy root with a non-positive serial
    number: cryptography warns about it today and will refuse it later; either way that one
    root must not stop all the others from loading.
    """
    certs: list[x509.Certificate] = []
    for block in data.split(_PEM_END)[:-1]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                certs.append(x509.load_pem_x509_certificate(block + _PEM_END))
            except ValueError:
                continue
    return certs


def load_system_trust_roots() -> list[x509.Certificate]:
    """Load certifi's bundle if installed, else the Debian system bundle."""
    try:
        import certifi
    except ImportError:
        bundle = SYSTEM_CA_BUNDLE
    else:
        bundle = Path(certifi.where())
    return load_pem_certificates(bundle.read_bytes())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turn redirects into errors: a redirect could leave s3.amazonaws.com or https."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch_https(url: str) -> bytes:
    """Fetch a certificate chain over verified https, with a short timeout and a size cap."""
    if urlsplit(url).scheme.lower() != "https":
        raise ValueError("only https is fetched")
    opener = urllib.request.build_opener(_NoRedirect())
    with opener.open(url, timeout=FETCH_TIMEOUT_SECONDS) as response:
        data: bytes = response.read(MAX_CHAIN_BYTES + 1)
    if len(data) > MAX_CHAIN_BYTES:
        raise ValueError("certificate chain too large")
    return data


@dataclass(frozen=True)
class _TrustedKey:
    """A validated chain, reduced to what later requests need: the key and its lifetime."""

    public_key: rsa.RSAPublicKey
    not_before: datetime
    not_after: datetime


def _check_validity(not_before: datetime, not_after: datetime, now: datetime) -> None:
    if now < not_before:
        raise VerificationError("signing certificate not yet valid")
    if now > not_after:
        raise VerificationError("signing certificate expired")


class RequestVerifier:
    """Verifies Alexa requests; build once at start-up and share (it is thread-safe).

    `skill_id=None` skips the skill id check, which is only acceptable in development; the
    caller should log a warning once when it builds a verifier that way. `trust_roots`,
    `fetch` and `clock` exist for tests; by default the system roots (loaded on first use,
    not at import), an https fetch and the UTC wall clock are used.
    """

    def __init__(
        self,
        skill_id: str | None,
        *,
        trust_roots: Sequence[x509.Certificate] | None = None,
        fetch: Callable[[str], bytes] | None = None,
        clock: Callable[[], datetime] | None = None,
        max_skew: timedelta = timedelta(seconds=150),
    ) -> None:
        if skill_id is not None and not skill_id.strip():
            raise ValueError("skill_id is empty; pass None to skip the skill id check")
        self.skill_id = skill_id
        self.max_skew = max_skew
        self._trust_roots = list(trust_roots) if trust_roots is not None else None
        self._fetch = fetch or fetch_https
        self._clock = clock or (lambda: datetime.now(UTC))
        self._store: x509_verification.Store | None = None
        self._keys: dict[str, _TrustedKey] = {}
        self._lock = threading.Lock()

    def verify(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Return the parsed envelope of a genuine request, or raise VerificationError.

        Any other exception is turned into VerificationError too, so a broken request can
        only ever be refused, never answered with a server error.
        """
        try:
            return self._verify(headers, body)
        except VerificationError:
            raise
        except Exception as exc:
            raise VerificationError("verification failed unexpectedly") from exc

    def _verify(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        now = self._now()
        cert_url = header(headers, "SignatureCertChainUrl")
        if not cert_url:
            raise VerificationError("SignatureCertChainUrl header missing")
        check_cert_url(cert_url)
        signature_text = header(headers, "Signature-256")
        if not signature_text:
            raise VerificationError("Signature-256 header missing")
        signature = decode_signature(signature_text)
        check_signature(self._signing_key(cert_url, now), signature, body)
        envelope = parse_envelope(body)
        check_timestamp(envelope, now, self.max_skew)
        if self.skill_id is not None:
            check_skill_id(envelope, self.skill_id)
        return envelope

    def _now(self) -> datetime:
        now = self._clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    def _signing_key(self, cert_url: str, now: datetime) -> rsa.RSAPublicKey:
        """Return the validated key for this URL, from the cache while its chain is valid."""
        with self._lock:
            cached = self._keys.get(cert_url)
            if cached is not None and now > cached.not_after:
                del self._keys[cert_url]  # Expired: fetch again, Amazon may have renewed it.
                cached = None
        if cached is None:
            cached = self._validate_chain(cert_url, now)
            with self._lock:
                if len(self._keys) >= MAX_CACHED_CHAINS:
                    del self._keys[next(iter(self._keys))]
                self._keys[cert_url] = cached
        _check_validity(cached.not_before, cached.not_after, now)
        return cached.public_key

    def _validate_chain(self, cert_url: str, now: datetime) -> _TrustedKey:
        """Fetch the chain and validate it to a trusted root for echo-api.amazon.com at `now`.

        ServerVerifier is the verifier whose policy names a DNS subject: it requires the leaf's
        SAN to match echo-api.amazon.com, and an EKU, if present, to include serverAuth, which
        Amazon's certificates carry (next to clientAuth). ClientVerifier would check no name.
        """
        try:
            pem = self._fetch(cert_url)
        except Exception as exc:
            raise VerificationError("certificate chain could not be fetched") from exc
        certs = load_pem_certificates(pem)
        if not certs:
            raise VerificationError("certificate chain is empty")
        leaf, intermediates = certs[0], certs[1:]
        _check_validity(leaf.not_valid_before_utc, leaf.not_valid_after_utc, now)
        verifier = (
            x509_verification.PolicyBuilder()
            .store(self._trust_store())
            .time(now.astimezone(UTC))
            .build_server_verifier(x509.DNSName(ECHO_API_NAME))
        )
        try:
            chain = verifier.verify(leaf, intermediates)
        except x509_verification.VerificationError as exc:
            raise VerificationError("certificate chain not trusted") from exc
        public_key = leaf.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise VerificationError("signing certificate key is not RSA")
        return _TrustedKey(
            public_key=public_key,
            not_before=max(cert.not_valid_before_utc for cert in chain),
            not_after=min(cert.not_valid_after_utc for cert in chain),
        )

    def _trust_store(self) -> x509_verification.Store:
        """Build the root store on first use: reading the bundle is not import-time work."""
        with self._lock:
            if self._store is None:
                roots = self._trust_roots
                if roots is None:
                    roots = load_system_trust_roots()
                if not roots:
                    raise VerificationError("no trust roots available")
                self._store = x509_verification.Store(roots)
            return self._store
