"""Benchmarks of the skill against a bare ask-sdk-core hello-world skill, measured in one run.

    python bench/bench_skill.py [--cold N] [--warm N] [--check]

1. Cold start: from the start of a new Python process until it has imported the Lambda handler
   and answered one LaunchRequest (a fresh SQLite store each time, so the first write is paid
   too), against the hello skill's process doing the same. Runs alternate A, B, A, B… so drift
   on a shared machine hits both.
2. Warm latency: an AMAZON.NextIntent through lambda_handler, including its progress read and
   write, against the hello skill's LaunchRequest; blocks alternate, median and p99 of each.

Figures are ratios against the baseline from the same run. Targets (issue 2): cold start at most
1.15x; warm median at most 3x. `--check` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import compileall
import copy
import importlib.util
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLD_TARGET = 1.15
WARM_TARGET = 3.0


def compile_bytecode() -> None:
    """Lambda ships bytecode (its code directory is read-only), so measure with .pyc present."""
    for folder in ("skill", "lambda", "bench"):
        compileall.compile_dir(ROOT / folder, quiet=1)


def cold_start(runs: int) -> tuple[list[float], list[float]]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    script = str(ROOT / "bench" / "cold_start.py")
    trust, hello = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs + 1):  # the first pair warms the page cache and is not counted
            for which, times in (("trust", trust), ("hello", hello)):
                store = Path(tmp) / f"{which}-{i}"
                store.mkdir()
                start = time.perf_counter()
                process = subprocess.Popen(
                    [sys.executable, script, which, str(store)], env=env, stdout=subprocess.PIPE
                )
                answered = process.stdout.readline()  # the response is out: stop the clock
                elapsed = time.perf_counter() - start
                process.communicate()
                if answered != b"answered\n" or process.returncode != 0:
                    raise RuntimeError(f"the {which} cold start failed")
                if i:
                    times.append(elapsed)
    return trust, hello


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def warm(requests: int, blocks: int = 10) -> tuple[list[float], list[float]]:
    from skill import envelopes

    tmp = tempfile.mkdtemp()
    os.environ["TRUST_GUIDE_STORE"] = f"sqlite:///{tmp}/progress.db"
    os.environ["TRUST_GUIDE_LOG_LEVEL"] = "INFO"  # the per-request log line is part of the cost
    trust_handler = _load(ROOT / "lambda" / "lambda_function.py", "lambda_function").lambda_handler
    hello_handler = _load(ROOT / "bench" / "hello_skill.py", "hello_skill").lambda_handler
    launch = envelopes.launch_request()
    next_intent = envelopes.intent_request("AMAZON.NextIntent")

    # Each listener hears steps 1..7 by "next": every timed request reads a row and writes it.
    listeners = [envelopes.Listener() for _ in range(requests // 7 + 1)]
    events = []
    for listener in listeners:
        session = envelopes.new_session_id()
        trust_handler(listener.envelope(launch, session, True), None)
        events += [listener.envelope(next_intent, session, False) for _ in range(7)]
    events = events[:requests]
    hello_event = listeners[0].envelope(launch, envelopes.new_session_id(), True)
    hello_events = [copy.deepcopy(hello_event) for _ in range(requests)]

    trust, hello = [], []
    size = requests // blocks
    for block in range(blocks):
        for handler, batch, times in (
            (trust_handler, events, trust),
            (hello_handler, hello_events, hello),
        ):
            for event in batch[block * size : (block + 1) * size]:
                start = time.perf_counter()
                handler(event, None)
                times.append(time.perf_counter() - start)
    return trust, hello


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=15, help="cold starts of each skill")
    parser.add_argument("--warm", type=int, default=3000, help="warm requests of each skill")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    # Lambda-like: a root handler receives the per-request INFO line (formatted, then discarded
    # here rather than printed, so the terminal's speed is not measured)
    logging.basicConfig(level=logging.WARNING, stream=open(os.devnull, "w"))  # noqa: SIM115
    compile_bytecode()

    cold_trust, cold_hello = cold_start(args.cold)
    warm_trust, warm_hello = warm(args.warm)
    cold_ratio = statistics.median(cold_trust) / statistics.median(cold_hello)
    warm_ratio = statistics.median(warm_trust) / statistics.median(warm_hello)
    ms = 1000.0
    print(f"{'measure':<44}{'trust guide':>14}{'hello skill':>14}{'ratio':>8}{'target':>8}")
    print(
        f"{'cold start, median ms (' + str(args.cold) + ' processes)':<44}"
        f"{statistics.median(cold_trust) * ms:>14.1f}{statistics.median(cold_hello) * ms:>14.1f}"
        f"{cold_ratio:>8.2f}{COLD_TARGET:>8.2f}"
    )
    print(
        f"{'warm request, median ms (' + str(args.warm) + ' requests)':<44}"
        f"{statistics.median(warm_trust) * ms:>14.3f}{statistics.median(warm_hello) * ms:>14.3f}"
        f"{warm_ratio:>8.2f}{WARM_TARGET:>8.2f}"
    )
    print(
        f"{'warm request, p99 ms':<44}{p99(warm_trust) * ms:>14.3f}{p99(warm_hello) * ms:>14.3f}"
        f"{p99(warm_trust) / p99(warm_hello):>8.2f}{'':>8}"
    )
    print("trust guide: NextIntent with its SQLite read and write; hello: LaunchRequest, no store")
    missed = cold_ratio > COLD_TARGET or warm_ratio > WARM_TARGET
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
