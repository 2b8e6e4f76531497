"""One cold start: a new process imports a Lambda handler and answers one LaunchRequest.

Usage: python bench/cold_start.py trust|hello STORE_DIR  (run by bench_skill.py, timed from outside)
"""

# The Lambda Python runtime (awslambdaric's bootstrap) has these loaded before it imports a
# handler, so neither skill pays for them on a real cold start; importing them here, for both,
# keeps the comparison about the skills themselves.
import importlib.util
import json
import logging  # noqa: F401
import os
import sys
import traceback  # noqa: F401
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENT = json.loads((ROOT / "bench" / "launch_event.json").read_text())


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    which, store_dir = sys.argv[1], sys.argv[2]
    if which == "trust":
        os.environ["TRUST_GUIDE_STORE"] = f"sqlite:///{store_dir}/progress.db"
        os.environ["TRUST_GUIDE_LOG_LEVEL"] = "WARNING"
        module = load(ROOT / "lambda" / "lambda_function.py")
    else:
        module = load(ROOT / "bench" / "hello_skill.py")
    response = module.lambda_handler(EVENT, None)
    assert response["response"]["outputSpeech"]["ssml"], response
    # The answer is out: a Lambda returns it here and is frozen, never exits, so the timer stops
    # at this line (closing the SQLite file at exit, a WAL checkpoint, is not part of it).
    print("answered", flush=True)


if __name__ == "__main__":
    main()
