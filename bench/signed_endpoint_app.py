"""The WSGI module bench_endpoint.py serves under gunicorn: the real endpoint (skill.web.create_app
on the skill from build_skill), with or without request verification.

    BENCH_VERIFY=1 BENCH_PKI_DIR=DIR gunicorn --pythonpath bench 'signed_endpoint_app:app'

BENCH_VERIFY=1: a RequestVerifier for BENCH_SKILL_ID that trusts only DIR/root.pem and "fetches"
DIR/chain.pem for any chain URL that passes Alexa's URL rules (the bench's throwaway PKI stands in
for Amazon's; everything else is the production code path, chain cache included).
BENCH_VERIFY=0: verifier None, as `--no-verify` runs it. Progress goes where TRUST_GUIDE_STORE says.
"""

from __future__ import annotations

import os
from pathlib import Path

from skill.builder import build_skill
from skill.config import Settings
from skill.verification import RequestVerifier, load_pem_certificates
from skill.web import create_app


def _verifier() -> RequestVerifier | None:
    if os.environ.get("BENCH_VERIFY", "1") == "0":
        return None
    pki = Path(os.environ["BENCH_PKI_DIR"])
    chain = (pki / "chain.pem").read_bytes()
    return RequestVerifier(
        os.environ["BENCH_SKILL_ID"],
        trust_roots=load_pem_certificates((pki / "root.pem").read_bytes()),
        fetch=lambda _url: chain,
    )


app = create_app(build_skill(Settings.from_env()), _verifier())
