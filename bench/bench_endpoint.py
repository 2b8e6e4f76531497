"""Benchmarks of the self-hosted endpoint, measured in one run.

    python bench/bench_endpoint.py [--rounds N] [--requests N] [--clients N] [--warm N] [--check]

1. Throughput and latency under gunicorn (2 sync workers, --timeout 10, as the README runs it):
   the endpoint with full request verification (chain fetched once per worker, then cached)
   against the same endpoint with verification off (create_app with verifier=None). Both servers
   run bench/signed_endpoint_app.py on their own SQLite file, with a throwaway PKI made at start.
   Rounds alternate which server goes first, so drift on a shared machine hits both. Before each
   round a batch of NextIntent requests is signed with current timestamps (Alexa's window is
   150 s), and the same bytes go to both servers. The load generator is this process: a fixed
   pool of threads, each with its own http.client connection (reopened when gunicorn's sync
   worker closes it), a bounded request count and time per round, loopback only.
   Besides requests/s, median and p99 latency, it reports the workers' CPU per request (from
   /proc, steadier than throughput on a shared machine) and RequestVerifier.verify alone.
2. Warm in-process latency of a NextIntent (the skill from build_skill, no HTTP), median and p99,
   through `warm_latency(store_url)`, which takes any store URL: SQLite here; DynamoDB on the
   local server is added with the DynamoDB adapter.

Target (issue 4): verification costs at most 20% of throughput. `--check` exits 1 when missed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import logging
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests" / "integration"))  # alexa_signing: the tests' PKI helpers

from alexa_signing import (  # noqa: E402
    CERT_URL,
    chain_pem,
    encode,
    make_ca,
    make_signing_cert,
    rsa_key,
    sign,
)
from cryptography.hazmat.primitives import serialization  # noqa: E402

from skill import envelopes  # noqa: E402
from skill.config import Settings  # noqa: E402

WORKERS = 2
TIMEOUT = 10
TARGET_COST = 0.20  # verification may cost at most 20% of throughput
SKILL_ID = envelopes.APPLICATION_ID
BOOT_SECONDS = 30
ROUND_SECONDS = 30  # a round stops early past this, well inside the 150 s timestamp window


def _gunicorn_extra_options() -> list[str]:
    """gunicorn 25.1+ opens a control socket at one shared default path; two servers here."""
    from gunicorn.config import Config

    return ["--no-control-socket"] if "control_socket_disable" in Config().settings else []


@dataclass
class Server:
    """One gunicorn master serving bench/signed_endpoint_app.py; its error log in a file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    @classmethod
    def start(cls, name: str, folder: Path, env: dict[str, str]) -> Server:
        log_path = folder / f"{name}.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--timeout",
            str(TIMEOUT),
            "--bind",
            "127.0.0.1:0",
            "--pythonpath",
            str(ROOT / "bench"),
            *_gunicorn_extra_options(),
            "signed_endpoint_app:app",
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log
            )
        server = cls(name, process, log_path)
        try:
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + BOOT_SECONDS
        while True:
            log = self.log_path.read_text(errors="replace")
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.name}) exited:\n{log}")
            found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log)
            if found and log.count("Booting worker with pid") >= WORKERS:
                self.port = int(found.group(1))
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        return
                except OSError:
                    pass
                finally:
                    conn.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn ({self.name}) not ready in {BOOT_SECONDS} s:\n{log}")
            time.sleep(0.05)

    def worker_cpu_seconds(self) -> float:
        """User+system CPU the workers have used so far (from /proc; Linux)."""
        log = self.log_path.read_text(errors="replace")
        total = 0
        for pid in set(re.findall(r"Booting worker with pid: (\d+)", log)):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a worker that has gone
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Round:
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the server's workers, during the round
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def make_pki(folder: Path) -> None:
    """A throwaway root and an echo-api-shaped signing certificate; the key stays in-process."""
    root = make_ca("Bench Root CA")
    (folder / "root.pem").write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    (folder / "chain.pem").write_bytes(chain_pem(make_signing_cert(root)))


class Traffic:
    """Listeners in open sessions, each saying "next": every request reads and writes progress."""

    def __init__(self, listeners: int = 64) -> None:
        self.sessions = [
            (envelopes.Listener(application_id=SKILL_ID), envelopes.new_session_id())
            for _ in range(listeners)
        ]
        self.next_intent = envelopes.intent_request("AMAZON.NextIntent")

    def signed_batch(self, size: int) -> list[tuple[bytes, dict[str, str]]]:
        """`size` requests stamped now and signed as Alexa would (Signature-256 over the body)."""
        key = rsa_key("signer")
        batch = []
        for i in range(size):
            listener, session = self.sessions[i % len(self.sessions)]
            body = encode(listener.envelope(self.next_intent, session, False))
            batch.append((body, {**sign(body, key, CERT_URL), "Content-Type": "application/json"}))
        return batch


def send_all(
    port: int, batch: list[tuple[bytes, dict[str, str]]], clients: int, max_seconds: float
) -> Round:
    """Send the batch from `clients` threads, each with its own connection; bounded in time."""
    result = Round()
    counter = itertools.count()  # next() on a count is atomic under the GIL
    lock = threading.Lock()
    deadline = time.perf_counter() + max_seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        latencies, failures = [], []
        try:
            while (i := next(counter)) < len(batch) and time.perf_counter() < deadline:
                body, headers = batch[i]
                start = time.perf_counter()
                try:
                    conn.request("POST", "/", body, headers)
                    response = conn.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    failures.append(type(exc).__name__)
                    continue
                latencies.append(time.perf_counter() - start)
                if response.status != 200:
                    failures.append(f"HTTP {response.status}")
        finally:
            conn.close()
            with lock:
                result.latencies += latencies
                result.failures += failures

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - start
    return result


def check_verification_is_on(port: int, body: bytes) -> None:
    """Refuse to report figures for a "verified" server that answers an unsigned request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/", body, {"Content-Type": "application/json"})
        status = conn.getresponse().status
    finally:
        conn.close()
    if status != 400:
        raise RuntimeError(f"the verified server answered an unsigned request with {status}")


def endpoint_bench(
    folder: Path, rounds: int, requests: int, clients: int
) -> tuple[dict[str, list[Round]], dict[str, Server]]:
    make_pki(folder)
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_GUIDE_")}
    base["TRUST_GUIDE_LOG_LEVEL"] = "INFO"  # the per-request log line is part of the cost
    servers: dict[str, Server] = {}
    try:
        for name, verify in (("verified", "1"), ("unverified", "0")):
            store = folder / name
            store.mkdir()
            env = {
                **base,
                "TRUST_GUIDE_STORE": f"sqlite:///{store}/progress.db",
                "BENCH_VERIFY": verify,
                "BENCH_PKI_DIR": str(folder),
                "BENCH_SKILL_ID": SKILL_ID,
            }
            servers[name] = Server.start(name, folder, env)
        traffic = Traffic()
        # Warm-up, not counted: each worker imports lazily-loaded code, opens its SQLite
        # connection and (verified) fetches and validates the chain once.
        warm = traffic.signed_batch(clients * 8)
        for server in servers.values():
            send_all(server.port, warm, clients, ROUND_SECONDS)
        check_verification_is_on(servers["verified"].port, warm[0][0])
        results: dict[str, list[Round]] = {name: [] for name in servers}
        for number in range(rounds):
            batch = traffic.signed_batch(requests)  # fresh timestamps for this round
            order = list(servers) if number % 2 == 0 else list(reversed(servers))
            for name in order:
                cpu = servers[name].worker_cpu_seconds()
                result = send_all(servers[name].port, batch, clients, ROUND_SECONDS)
                result.cpu_seconds = servers[name].worker_cpu_seconds() - cpu
                results[name].append(result)
        return results, servers
    finally:
        for server in servers.values():
            server.stop()


def warm_latency(store_url: str, requests: int = 2000) -> list[float]:
    """Seconds per warm in-process NextIntent, each reading and writing progress in `store_url`.

    Any store URL the skill accepts (sqlite:///PATH, dynamodb://TABLE with boto3 configured for
    the local server). Each listener launches first (not timed), then hears steps by "next".
    """
    from skill.builder import build_skill

    skill = build_skill(Settings(store=store_url, log_level="INFO"))
    launch = envelopes.launch_request()
    next_intent = envelopes.intent_request("AMAZON.NextIntent")
    events = []
    for _ in range(requests // 7 + 1):
        listener = envelopes.Listener(application_id=SKILL_ID)
        session = envelopes.new_session_id()
        skill.handle(listener.envelope(launch, session, True))
        events += [listener.envelope(next_intent, session, False) for _ in range(7)]
    times = []
    for event in events[:requests]:
        start = time.perf_counter()
        skill.handle(event)
        times.append(time.perf_counter() - start)
    return times


@contextlib.contextmanager
def local_dynamodb(folder: Path):
    """A DynamoDB-compatible server (moto's server mode) on loopback for the warm-latency row;
    yields the store URL of a fresh table, with boto3 pointed at the server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (folder / "moto.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_DEFAULT_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        )
    }
    os.environ.update(
        AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{port}",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the local DynamoDB server did not start") from None
                time.sleep(0.1)
        from skill.persistence.dynamodb import create_table

        create_table("trust-guide-bench")
        yield "dynamodb://trust-guide-bench"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


@dataclass(frozen=True)
class Summary:
    rate: float  # requests/s over all rounds
    median_ms: float
    p99_ms: float
    count: int
    cpu_ms: float  # worker CPU per request
    failures: list[str]


def summary(rounds: list[Round]) -> Summary:
    latencies = [t for r in rounds for t in r.latencies]
    return Summary(
        rate=len(latencies) / sum(r.seconds for r in rounds),
        median_ms=statistics.median(latencies) * 1e3,
        p99_ms=p99(latencies) * 1e3,
        count=len(latencies),
        cpu_ms=sum(r.cpu_seconds for r in rounds) / len(latencies) * 1e3,
        failures=[f for r in rounds for f in r.failures],
    )


def paired_ratio(verified: list[Round], unverified: list[Round]) -> float:
    """Median over rounds of verified/off throughput: each pair ran back to back on one batch."""
    return statistics.median(
        (len(a.latencies) / a.seconds) / (len(b.latencies) / b.seconds)
        for a, b in zip(verified, unverified, strict=True)
    )


def verify_cost(requests: int = 2000) -> list[float]:
    """Seconds per RequestVerifier.verify on a warm cache, in-process: the verifier alone."""
    from skill.verification import RequestVerifier

    root = make_ca("Bench Root CA")
    chain = chain_pem(make_signing_cert(root))
    verifier = RequestVerifier(SKILL_ID, trust_roots=[root.cert], fetch=lambda _url: chain)
    batch = Traffic(listeners=8).signed_batch(requests)
    body, headers = batch[0]
    verifier.verify(headers, body)  # fetch and validate the chain once
    times = []
    for body, headers in batch:
        start = time.perf_counter()
        verifier.verify(headers, body)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="rounds per server (alternating)")
    parser.add_argument("--requests", type=int, default=400, help="requests per round")
    parser.add_argument("--clients", type=int, default=4, help="client threads (connections)")
    parser.add_argument("--warm", type=int, default=2000, help="warm in-process requests")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args()
    # The in-process skill's INFO line is formatted, then discarded rather than printed.
    logging.basicConfig(level=logging.WARNING, stream=open(os.devnull, "w"))  # noqa: SIM115

    with tempfile.TemporaryDirectory(prefix="bench-endpoint-") as tmp:
        results, servers = endpoint_bench(Path(tmp), args.rounds, args.requests, args.clients)
        rows = {name: summary(rounds) for name, rounds in results.items()}
        failed = {name: row.failures for name, row in rows.items() if row.failures}
        if failed:
            for name, failures in failed.items():
                log = servers[name].log_path.read_text(errors="replace")
                print(
                    f"{name}: {len(failures)} failed requests, e.g. {failures[:3]}\n{log[-2000:]}"
                )
            return 1
        warm = warm_latency(f"sqlite:///{tmp}/warm.db", args.warm)
        with local_dynamodb(Path(tmp)) as store:
            warm_dynamo = warm_latency(store, args.warm // 4)
    verifier_alone = verify_cost()

    verified, unverified = rows["verified"], rows["unverified"]
    ratio = verified.rate / unverified.rate
    cost = 1 - ratio
    print(
        f"endpoint under gunicorn: {WORKERS} sync workers, --timeout {TIMEOUT}; loopback; "
        f"{args.clients} client threads in this process"
    )
    print(
        f"{args.rounds} rounds x {args.requests} freshly signed NextIntent requests per server, "
        "alternating; chain cached after each worker's first request"
    )
    print(
        f"{'server':<22}{'requests/s':>11}{'median ms':>11}{'p99 ms':>9}"
        f"{'worker CPU ms/req':>19}{'requests':>10}"
    )
    for label, row in (("full verification", verified), ("verification off", unverified)):
        print(
            f"{label:<22}{row.rate:>11.1f}{row.median_ms:>11.2f}{row.p99_ms:>9.2f}"
            f"{row.cpu_ms:>19.3f}{row.count:>10}"
        )
    print(
        f"throughput verified/off: {ratio:.3f} (median of per-round pairs "
        f"{paired_ratio(results['verified'], results['unverified']):.3f}); verification costs "
        f"{cost:.1%} of throughput (target: at most {TARGET_COST:.0%}) -> "
        f"{'met' if cost <= TARGET_COST else 'MISSED'}"
    )
    print(
        f"worker CPU per request verified/off: {verified.cpu_ms / unverified.cpu_ms:.3f}; "
        f"RequestVerifier.verify alone (in-process, cached chain): median "
        f"{statistics.median(verifier_alone) * 1e6:.0f} us, p99 {p99(verifier_alone) * 1e6:.0f} us"
    )
    print()
    print("warm in-process request: NextIntent through build_skill's skill, progress read+write")
    print(f"{'store':<22}{'median ms':>11}{'p99 ms':>9}{'requests':>10}")
    for label, times in (("sqlite (WAL)", warm), ("dynamodb (local moto)", warm_dynamo)):
        print(
            f"{label:<22}{statistics.median(times) * 1e3:>11.3f}{p99(times) * 1e3:>9.3f}"
            f"{len(times):>10}"
        )
    print(
        f"dynamodb/sqlite median: {statistics.median(warm_dynamo) / statistics.median(warm):.1f}x "
        "(two HTTP round trips to a local server per request: a read and a conditional write)"
    )
    return 1 if args.check and cost > TARGET_COST else 0


if __name__ == "__main__":
    sys.exit(main())
