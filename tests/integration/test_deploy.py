"""Deployment files, checked offline: the SAM template (cfn-lint), the ASK CLI project, the zip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cfnlint.api import lint_file
from cfnlint.decode import decode

from skill.packaging import MAX_ZIP_BYTES, build_lambda_zip

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infrastructure" / "template.yaml"


def test_template_passes_cfn_lint():
    problems = lint_file(TEMPLATE)
    assert not problems, "cfn-lint found problems:\n" + "\n".join(map(str, problems))


def test_template_declares_what_the_issue_asks_for():
    template, errors = decode(str(TEMPLATE))
    assert not errors, errors
    resources = template["Resources"]
    function = resources["TrustGuideFunction"]["Properties"]
    defaults = template["Globals"]["Function"]
    assert defaults["Runtime"] == "python3.12"
    assert defaults["Architectures"] == ["arm64"]
    assert defaults["MemorySize"] == 256
    assert defaults["Timeout"] == 7, "Alexa waits 8 s: the function must stop before that"
    assert function["Handler"] == "lambda_function.lambda_handler"
    assert function["Events"]["Alexa"]["Type"] == "AlexaSkill"
    env = function["Environment"]["Variables"]
    assert set(env) >= {"TRUST_GUIDE_STORE", "TRUST_GUIDE_AUDIO_BASE_URL", "TRUST_GUIDE_SKILL_ID"}
    table = resources["ProgressTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert resources["AudioBucket"]["Type"] == "AWS::S3::Bucket"


def test_a_broken_template_is_caught(tmp_path):
    """cfn-lint really checks the file: a wrong runtime fails."""
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("python3.12", "python9.99"))
    assert any("python9.99" in str(problem) for problem in lint_file(broken))


def test_skill_package_is_an_ask_cli_v2_project():
    resources = json.loads((ROOT / "ask-resources.json").read_text())
    assert resources["askcliResourcesVersion"] == "2020-03-31"
    source = resources["profiles"]["default"]["skillMetadata"]["src"]
    manifest = json.loads((ROOT / source / "skill.json").read_text())["manifest"]
    locale = manifest["publishingInformation"]["locales"]["en-US"]
    assert locale["name"] == "Trust Guide"
    assert any("open trust guide" in phrase.lower() for phrase in locale["examplePhrases"])
    privacy = manifest["privacyAndCompliance"]
    assert set(privacy) >= {"allowsPurchases", "usesPersonalInfo", "isChildDirected", "containsAds"}
    assert "custom" in manifest["apis"]


def test_skill_package_models_are_the_interaction_models():
    """One source of truth: `trust-guide package` copies interaction_model/ into skill-package/."""
    for model in (ROOT / "interaction_model").glob("*.json"):
        copy = ROOT / "skill-package" / "interactionModels" / "custom" / model.name
        assert copy.is_file(), f"{copy} is missing: run trust-guide package"
        assert json.loads(copy.read_text()) == json.loads(model.read_text()), (
            f"{copy} differs from {model}: run trust-guide package"
        )


@pytest.mark.integration
def test_lambda_zip_holds_only_run_time_code_and_answers(tmp_path):
    """Built for this machine's platform so it can be imported here; the default is Lambda's."""
    out = tmp_path / "lambda.zip"
    platform = "manylinux2014_x86_64" if os.uname().machine == "x86_64" else "manylinux2014_aarch64"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    report = build_lambda_zip(out, platform=platform, python=python)
    assert report.size <= MAX_ZIP_BYTES
    names = zipfile.ZipFile(out).namelist()
    assert "lambda_function.py" in names and "skill/builder.py" in names
    assert "skill/data/en-US/steps.json" in names
    tops = {name.split("/")[0] for name in names}
    for absent in ("boto3", "botocore", "gtts", "pydub", "flask", "audio"):
        assert absent not in tops, f"{absent} must not be in the Lambda zip"
    assert {"ask_sdk_core", "ask_sdk_model", "ask_sdk_dynamodb"} <= tops

    unpacked = tmp_path / "task"
    zipfile.ZipFile(out).extractall(unpacked)
    event = json.loads((ROOT / "bench" / "launch_event.json").read_text())
    script = (
        "import json, sys, lambda_function;"
        f"r = lambda_function.lambda_handler(json.loads({json.dumps(json.dumps(event))}), None);"
        "print(r['response']['outputSpeech']['ssml'])"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", script],
        cwd=unpacked,
        capture_output=True,
        text=True,
        env={"TRUST_GUIDE_STORE": f"sqlite:///{tmp_path}/p.db", "PYTHONPATH": str(unpacked)},
    )
    assert done.returncode == 0, done.stderr
    assert "Welcome to Trust Guide" in done.stdout
