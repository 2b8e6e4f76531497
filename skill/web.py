"""The self-hosted endpoint: a Flask app that verifies each request, then hands it to the skill.

Owns: the HTTP edge. POST / (Alexa's requests), GET /audio/<file> (the pause clips, for hosts that
serve their own audio), GET /healthz. Every POST is verified first (skill/verification.py: Alexa's
certificate chain, signature, timestamp and skill id); any failure is HTTP 400 with the reason in
the log, never a 500. flask-ask-sdk is not used: its verifier stack (ask-sdk-webservice-support ->
certvalidator -> oscrypto) cannot be imported on OpenSSL 3.0.10 and newer.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ask_sdk_core.exceptions import SerializationException
from flask import Flask, Response, abort, jsonify, request, send_from_directory

from skill.builder import EMPTY_RESPONSE, NewRequestType, TrustGuide, WrongSkill, build_skill
from skill.config import ConfigError, Settings
from skill.verification import RequestVerifier, VerificationError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 128 * 1024  # Alexa's request envelopes are a few kB


def create_app(
    skill: TrustGuide,
    verifier: RequestVerifier | None,
    audio_dir: Path | None = None,
) -> Flask:
    """The endpoint's app. `verifier` None turns verification off: local development only."""
    app = Flask("trust_guide")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    if verifier is None:
        log.warning(
            "REQUEST VERIFICATION IS OFF: any caller can drive this skill. Never in production."
        )

    @app.post("/")
    def alexa() -> Response | tuple[Response, int]:
        body = request.get_data(cache=False)
        if verifier is not None:
            try:
                verifier.verify(request.headers, body)
            except VerificationError as exc:
                log.warning("rejected request: %s", exc.reason)
                return jsonify(error="request verification failed"), 400
        try:  # not JSON, or not an envelope: read_envelope says so (verified or not)
            envelope = skill.read_envelope(body)
        except NewRequestType:
            return jsonify(EMPTY_RESPONSE)  # a request type newer than ask-sdk-model
        except SerializationException:
            log.warning("rejected request: the body is not an Alexa request envelope")
            return jsonify(error="the body is not an Alexa request envelope"), 400
        try:
            return jsonify(skill.invoke(envelope))
        except WrongSkill:
            log.warning("rejected request: it is for another skill id")
            return jsonify(error="request verification failed"), 400

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/audio/<path:name>")
    def audio(name: str) -> Response:
        if audio_dir is None or not name.endswith(".mp3"):
            abort(404)
        response = send_from_directory(audio_dir, name, mimetype="audio/mpeg", max_age=86400)
        response.headers["Access-Control-Allow-Origin"] = "*"  # Alexa fetches the clip itself
        return response

    @app.errorhandler(413)
    def too_large(_error: Exception) -> tuple[Response, int]:
        return jsonify(error="request body too large"), 400

    return app


def create_app_from_settings(settings: Settings, verify: bool = True) -> Flask:
    """Build the skill and the app from configuration (the CLI's `serve` and gunicorn's entry)."""
    verifier = None
    if verify:
        if not settings.skill_id:
            raise ConfigError(
                "TRUST_GUIDE_SKILL_ID is required to verify requests (Alexa's rule: accept only "
                "your own skill's requests); for local development only, use --no-verify"
            )
        verifier = RequestVerifier(settings.skill_id)
    audio_dir = Path(settings.audio_manifest).parent
    return create_app(build_skill(settings), verifier, audio_dir)
