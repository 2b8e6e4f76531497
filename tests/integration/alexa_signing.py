"""Alexa-like request signing for tests: a private PKI and signed request bodies.

Builds, with `cryptography` only, what Alexa's side of a request looks like: a root CA, an optional
intermediate, a signing certificate shaped like Amazon's (SAN echo-api.amazon.com, EKU serverAuth
and clientAuth, as the real ones carry), a PEM chain to serve at a SignatureCertChainUrl, and the
`Signature-256` header over a body. No test functions live here, so HTTP tests of the web app can
import it too.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_URL = "https://s3.amazonaws.com/echo.api/echo-api-cert.pem"
ECHO_API_NAME = "echo-api.amazon.com"
SKILL_ID = "amzn1.ask.skill.00000000-0000-0000-0000-000000000001"
# Amazon's echo-api certificates and their issuing CA carry both; the verifier must accept that.
AMAZON_EKUS = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]

# RSA key generation is the slow part (tens of ms); tests reuse keys through this small pool.
_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def rsa_key(label: str = "default") -> rsa.RSAPrivateKey:
    """Return a 2048-bit RSA key, the same one for the same label within a test run."""
    if label not in _KEYS:
        _KEYS[label] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[label]


@dataclass(frozen=True)
class Authority:
    """A CA certificate and its key, able to issue certificates below it."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Trust Guide Tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(
    common_name: str = "Test Root CA",
    *,
    issuer: Authority | None = None,
    key: rsa.RSAPrivateKey | None = None,
    now: datetime | None = None,
) -> Authority:
    """Make a root CA (self-signed) or, given `issuer`, an intermediate CA signed by it.

    Extensions follow what cryptography's web-PKI policy expects of CAs (critical basic
    constraints and key usage, key identifiers), so a rejection in a test means what it says.
    """
    now = now or datetime.now(UTC)
    key = key or rsa_key(common_name)
    subject = _name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=365))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        ).add_extension(
            x509.ExtendedKeyUsage(AMAZON_EKUS),
            critical=False,
        )
    signer = issuer.key if issuer else key
    return Authority(builder.sign(signer, hashes.SHA256()), key)


def make_signing_cert(
    issuer: Authority,
    *,
    key: rsa.RSAPrivateKey | None = None,
    dns_name: str = ECHO_API_NAME,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    ekus: list[x509.ObjectIdentifier] = AMAZON_EKUS,
) -> x509.Certificate:
    """Make a leaf shaped like Amazon's echo-api certificate; by default valid now-1d..now+30d."""
    now = datetime.now(UTC)
    key = key or rsa_key("signer")
    return (
        x509.CertificateBuilder()
        .subject_name(_name(dns_name))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(ekus),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )


def chain_pem(*certs: x509.Certificate) -> bytes:
    """Concatenate certificates as PEM, leaf first, as Amazon serves them."""
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def sign(body: bytes, key: rsa.RSAPrivateKey, cert_url: str = CERT_URL) -> dict[str, str]:
    """Return the headers Alexa sends with `body`: the chain URL and Signature-256."""
    signature = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return {
        "SignatureCertChainUrl": cert_url,
        "Signature-256": base64.b64encode(signature).decode("ascii"),
    }


def alexa_timestamp(moment: datetime) -> str:
    """Format a moment as Alexa does: UTC, seconds precision, trailing Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_envelope(
    timestamp: datetime | str | None = None,
    app_id: str | None = SKILL_ID,
    *,
    in_context: bool = True,
    in_session: bool = True,
    request_type: str = "LaunchRequest",
) -> dict[str, Any]:
    """Build a minimal request envelope; `app_id` goes in context and/or session as asked."""
    moment = timestamp if timestamp is not None else datetime.now(UTC)
    stamp = moment if isinstance(moment, str) else alexa_timestamp(moment)
    envelope: dict[str, Any] = {
        "version": "1.0",
        "request": {
            "type": request_type,
            "requestId": "amzn1.echo-api.request.test",
            "timestamp": stamp,
            "locale": "en-US",
        },
    }
    application = {"applicationId": app_id} if app_id is not None else {}
    user = {"userId": "amzn1.ask.account.TEST"}
    if in_session:
        envelope["session"] = {
            "new": True,
            "sessionId": "amzn1.echo-api.session.test",
            "application": application,
            "user": user,
        }
    if in_context:
        envelope["context"] = {"System": {"application": application, "user": user}}
    return envelope


def encode(envelope: dict[str, Any]) -> bytes:
    """Serialise an envelope to the bytes that get signed and sent."""
    return json.dumps(envelope, separators=(",", ":")).encode("utf-8")


@dataclass
class PemServer:
    """A fetch function over a dict of URL -> PEM bytes that counts its calls."""

    documents: dict[str, bytes] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        if url not in self.documents:
            raise OSError(f"404 for {url}")
        return self.documents[url]
