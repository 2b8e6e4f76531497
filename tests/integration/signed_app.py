"""A WSGI module for the gunicorn tests: the real endpoint, with a verifier that trusts a test PKI.

    gunicorn --pythonpath tests/integration 'signed_app:app'

SIGNED_APP_PKI_DIR names a folder holding root.pem (the only trust root) and chain.pem (served
at alexa_signing.CERT_URL); progress goes where TRUST_GUIDE_STORE says. Built per worker at
import, as skill.wsgi is. On top of the real app, for the tests only:
- every response carries X-Worker-Pid and X-Chain-Fetches (this worker's fetches so far),
  so a test can see which worker answered and that the chain is cached;
- GET /_test/sleep?seconds=N holds its worker for N seconds (the worker timeout test).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from alexa_signing import CERT_URL, SKILL_ID
from flask import Response, jsonify, request

from skill.builder import build_skill
from skill.config import Settings
from skill.verification import RequestVerifier, load_pem_certificates
from skill.web import create_app

PKI_DIR = Path(os.environ["SIGNED_APP_PKI_DIR"])


class ChainFiles:
    """The verifier's `fetch`: chain.pem for CERT_URL, a failure for any other URL; counted."""

    def __init__(self, chain: Path) -> None:
        self.chain = chain
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, url: str) -> bytes:
        with self._lock:
            self.count += 1
        if url != CERT_URL:
            raise OSError(f"404 for {url}")
        return self.chain.read_bytes()


fetch = ChainFiles(PKI_DIR / "chain.pem")
verifier = RequestVerifier(
    SKILL_ID,
    trust_roots=load_pem_certificates((PKI_DIR / "root.pem").read_bytes()),
    fetch=fetch,
)
app = create_app(build_skill(Settings.from_env()), verifier)


@app.get("/_test/sleep")
def sleep() -> Response:
    time.sleep(float(request.args.get("seconds", "1")))
    return jsonify(slept=True)


@app.after_request
def tag(response: Response) -> Response:
    response.headers["X-Worker-Pid"] = str(os.getpid())
    response.headers["X-Chain-Fetches"] = str(fetch.count)
    return response
