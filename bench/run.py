"""`make bench`: the product against a bare Flask + SQLAlchemy app (bench/bare_app.py), each under
gunicorn with 2 sync workers, on SQLite and PostgreSQL, loaded with wrk. Prints a table and writes
it to bench/RESULTS.md (bench/results/latest.md too).

    .venv/bin/python bench/run.py                 # both databases, 1,000,000 ratings, 3 rounds of 6 s runs
    .venv/bin/python bench/run.py --quick         # 10,000 ratings, 3 rounds of 3 s runs
    .venv/bin/python bench/run.py --db sqlite     # one database
    .venv/bin/python bench/run.py --profile       # also profile the slowest endpoint (pyinstrument)
    .venv/bin/python bench/run.py --no-lock-waits # skip the PostgreSQL lock-wait phase

Both servers run side by side, and the endpoints are measured in rounds: each round runs every
endpoint once, the two sides of a ratio back to back (constant GET then /me, insert then rating,
...). The table shows each endpoint's median round; a ratio is the median of its rounds' ratios.
The machine's speed drifts by tens of percent over minutes; within one pair of runs it drifts little.

The product runs with its scheduler (`flask scheduler run`) beside gunicorn, as in production: the
`reports.stats-fold` job folds the ratings written during the runs into the rollups. On PostgreSQL a last
phase runs 16 concurrent rating writers (gunicorn, 16 workers) for 20 s while sampling
`pg_stat_activity` every 50 ms, and prints the share of active backends waiting on a lock
(`wait_event_type = 'Lock'`; the acceptance is under 5 %).
"""

import argparse
import datetime as dt
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PY = sys.executable
WRITES_PER_SECOND = 50  # rating POSTs while the statistics GET is measured again
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REGION = "460100"  # 海口市: in the reference regions every database loads

RATING_LUA = """
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  tokens = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % tonumber(args[2]) == id then tokens[#tokens + 1] = line end
    i = i + 1
  end
  n = 0
end
function request()
  n = n + 1
  local token = tokens[(n - 1) % #tokens + 1]
  local body = '{"token":"' .. token .. '","level":' .. (n % 5 + 1) .. ',"comment":"办事很快，态度很好"}'
  return wrk.format("POST", "/api/v1/ratings", {["Content-Type"] = "application/json"}, body)
end
"""

TICKET_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_AGENT_TOKEN")
wrk.body = '{"type":"consultation","content":"咨询社保卡补办需要哪些材料","region_code":"REGION"}'
""".replace("REGION", REGION)

INSERT_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"level":5,"comment":"办事很快，态度很好"}'
"""

# Creates the tables the migrations do not (yet) have, and names them, so a bench still runs while
# a package's migration is being written.
SCHEMA_SNIPPET = """
from sqlalchemy import inspect
from core.app import create_app
from core.db import Base, db
app = create_app()
with app.app_context():
    missing = sorted(set(Base.metadata.tables) - set(inspect(db.engine).get_table_names()))
    Base.metadata.create_all(db.engine)
    print(" ".join(missing))
"""

# Creates service events through the product's own service function, prints nothing but counts.
TOKENS_SNIPPET = """
import sys
from core.app import create_app
from core.db import db
from ratings.tokens import create_service_event
app = create_app()
count, path = int(sys.argv[1]), sys.argv[2]
with app.app_context(), open(path, "w") as out:
    for start in range(0, count, 1000):
        for _ in range(min(1000, count - start)):
            out.write(create_service_event({}).token + "\\n")
        db.session.commit()
"""


@dataclass
class Run:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class DbResult:
    backend: str
    ratings: int
    runs: dict[str, Run] = field(default_factory=dict)  # each endpoint's median round
    rounds: dict[str, list[Run]] = field(default_factory=dict)  # each endpoint's runs, round by round
    written_per_round: list[float] = field(default_factory=list)
    rss_kib: dict[str, list[int]] = field(default_factory=dict)
    written: float = 0.0  # ratings/s actually written during the statistics run under writes
    lock_share: float | None = None  # PostgreSQL: share of sampled active backends waiting on a lock
    lock_samples: int = 0


def start_scheduler(env: dict[str, str], log: Path, timeout: float = 90) -> subprocess.Popen:
    """The product's scheduler process (the `reports.stats-fold` job among its jobs), as in production;
    returns once it leads and its first ticks are done, so its start-up is not in the timings."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [PY, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while "waiting for leadership" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the scheduler did not start; see {log}")
        time.sleep(0.3)
    time.sleep(3)  # the first tick of every job runs at once
    return process


LOCK_SAMPLE_SQL = """
SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*)
FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
"""


class LockSampler(threading.Thread):
    """Samples pg_stat_activity every 50 ms: active backends, and those waiting on a lock."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        self.halt = threading.Event()
        self.waiting = self.active = self.samples = 0

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.halt.wait(0.05):
                waiting, active = conn.execute(LOCK_SAMPLE_SQL).fetchone() or (0, 0)
                self.waiting += int(waiting)
                self.active += int(active)
                self.samples += 1

    @property
    def share(self) -> float:
        return self.waiting / self.active if self.active else 0.0


class Writer(threading.Thread):
    """Rating POSTs at a steady rate (fresh tokens from a file) while another run measures."""

    def __init__(self, base: str, tokens: Path, per_second: float) -> None:
        super().__init__(daemon=True)
        self.base, self.per_second = base, per_second
        self.tokens = tokens.read_text().split()
        self.halt = threading.Event()
        self.sent = self.ok = 0

    def run(self) -> None:
        import json

        started = time.monotonic()
        for token in self.tokens:
            due = started + self.sent / self.per_second
            if self.halt.wait(max(0.0, due - time.monotonic())):
                return
            body = json.dumps({"token": token, "level": 1 + self.sent % 5, "comment": "办事很快"}).encode()
            request = urllib.request.Request(
                f"{self.base}/api/v1/ratings", body, {"Content-Type": "application/json"}, method="POST"
            )
            self.sent += 1
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    self.ok += response.status == 201
            except OSError:
                pass


def lock_waits(env: dict[str, str], url: str, work: Path, result: DbResult, tokens: int) -> None:
    """16 concurrent rating writers for 20 s on 16 gunicorn workers, pg_stat_activity sampled."""
    path = work / "tokens-lock.txt"
    started = time.monotonic()
    subprocess.run([PY, "-c", TOKENS_SNIPPET, str(tokens), str(path)], cwd=ROOT, env=env, check=True)
    print(f"  {tokens:,} rating tokens for the lock-wait phase in {time.monotonic() - started:.0f} s", flush=True)
    scheduler = start_scheduler(env, work / "scheduler-16.log")
    product, port = start_gunicorn("wsgi:app", ROOT, env, work / "product-16.log", workers=16)
    sampler = LockSampler(url)
    try:
        wait_ready(port, "/healthz", product)
        # Sixteen workers import the app one after another on two CPUs: let them all boot first.
        wrk("warm-up: /healthz, 16 connections", f"http://127.0.0.1:{port}/healthz", 5, connections=16)
        sampler.start()
        result.runs["rating16"] = wrk(
            "product: rating POST, 16 writers",
            f"http://127.0.0.1:{port}/",
            20,
            work / "rating.lua",
            [str(path), "2"],
            connections=16,
        )
    finally:
        sampler.halt.set()
        sampler.join(10)
        stop(scheduler)
        stop(product)
    result.lock_share, result.lock_samples = sampler.share, sampler.samples
    print(
        f"  lock waits: {sampler.share:.1%} of sampled active backends "
        f"({sampler.waiting} of {sampler.active} in {sampler.samples} samples; target < 5 %)",
        flush=True,
    )


def split_lines(path: Path, parts: int, prefix: Path) -> list[Path]:
    """`path`'s lines dealt into `parts` files (each round rates with tokens of its own)."""
    lines = path.read_text().split()
    files = []
    for part in range(parts):
        target = prefix.with_name(f"{prefix.name}-{part}.txt")
        target.write_text("\n".join(lines[part::parts]) + "\n")
        files.append(target)
    return files


def median_run(runs: list[Run]) -> Run:
    """The round with the median requests/s (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda run: run.rps)
    return ordered[(len(ordered) - 1) // 2]


def ratio(result: "DbResult", top: str, bottom: str) -> float:
    """The median over rounds of top ÷ bottom, each round's pair measured back to back."""
    pairs = zip(result.rounds[top], result.rounds[bottom], strict=True)
    return statistics.median(a.rps / b.rps for a, b in pairs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, path: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server on port {port} did not answer {path} in time")


def start_gunicorn(
    app: str, cwd: Path, env: dict[str, str], log: Path, workers: int = 2
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [PY, "-m", "gunicorn", "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}", app]
    with log.open("ab") as out:
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, port


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_rss(master_pid: int) -> list[int]:
    """VmRSS (KiB) of each gunicorn worker: the processes whose parent is the master."""
    sizes = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != master_pid:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            sizes.append(int(match.group(1)))
    return sorted(sizes)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk_command(
    url: str,
    seconds: int,
    connections: int,
    script: Path | None = None,
    args: list[str] | None = None,
    headers: list[str] | None = None,
) -> list[str]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    for header in headers or []:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    return [*cmd, "--", *args] if args else cmd


def wrk(
    name: str,
    url: str,
    seconds: int,
    script: Path | None = None,
    args: list[str] | None = None,
    headers: list[str] | None = None,
    env: dict[str, str] | None = None,
    connections: int = 8,
) -> Run:
    cmd = wrk_command(url, seconds, connections, script, args, headers)
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({name}): {done.stdout}\n{done.stderr}")
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.MULTILINE))
    p50 = _ms(*re.match(r"([\d.]+)(\w+)", lat["50"]).groups())  # type: ignore[union-attr]
    p99 = _ms(*re.match(r"([\d.]+)(\w+)", lat["99"]).groups())  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    if errors > 0.01 * rps * seconds:
        raise SystemExit(f"{name}: {errors} failed requests; is the server still up?\n{out}")
    run = Run(name, rps, p50, p99, errors)
    print(f"  {name:<34} {rps:>9.1f} req/s  p50 {p50:7.2f} ms  p99 {p99:8.2f} ms  errors {errors}", flush=True)
    return run


def warm_up(
    url: str,
    script: Path | None = None,
    args: list[str] | None = None,
    headers: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """One unrecorded second of load on an endpoint before it is measured."""
    cmd = wrk_command(url, 1, 4, script, args, headers)
    subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    time.sleep(1)  # let the requests still in flight finish before the measured run


def flask(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PY, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def pg_admin(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def bench_database(backend: str, opts: argparse.Namespace, work: Path) -> DbResult:
    print(f"\n== {backend}: loading {opts.ratings:,} ratings", flush=True)
    if backend == "sqlite":
        product_url = f"sqlite:///{work / 'product.db'}"
        bare_url = f"sqlite:///{work / 'bare.db'}"
        pg_name = ""
    else:
        pg_name = f"haocha_bench_{os.getpid()}"
        pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{pg_name}"')
        product_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_name}"
        bare_url = product_url
    result = DbResult(backend, opts.ratings)
    env = {
        **os.environ,
        "DATABASE_URL": product_url,
        "HAOCHA_INSTANCE_PATH": str(work / f"instance-{backend}"),
        "RATELIMIT_ENABLED": "0",  # wrk comes from one address; the per-IP limit would answer 429
        # The same for the fraud signals: thousands of citizens from one address would be held for
        # review (counted nowhere) and serialised on that network's lock; loopback is a "service
        # hall" here, as a counter device's network is in production.
        "REVIEW_EXEMPT_NETWORKS": '["127.0.0.0/8"]',
        "PYTHONPATH": str(ROOT),
    }
    try:
        started = time.monotonic()
        flask(env, "db", "upgrade")
        missing = subprocess.run(
            [PY, "-c", SCHEMA_SNIPPET], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        if missing:
            print(f"  WARNING: not created by the migrations, created from the models: {missing}", flush=True)
        flask(env, "demo", "load", "--ratings", str(opts.ratings))
        print(f"  loaded in {time.monotonic() - started:.0f} s", flush=True)
        agent = flask(env, "tokens", "create", "demo_agent").strip().splitlines()[-1]
        manager = flask(env, "tokens", "create", "demo_manager").strip().splitlines()[-1]
        tokens = work / f"tokens-{backend}.txt"
        started = time.monotonic()
        subprocess.run([PY, "-c", TOKENS_SNIPPET, str(opts.tokens), str(tokens)], cwd=ROOT, env=env, check=True)
        print(f"  {opts.tokens:,} rating tokens in {time.monotonic() - started:.0f} s", flush=True)
        warm_tokens = work / f"tokens-warm-{backend}.txt"
        subprocess.run([PY, "-c", TOKENS_SNIPPET, "300", str(warm_tokens)], cwd=ROOT, env=env, check=True)
        writing_tokens = work / f"tokens-writing-{backend}.txt"
        count = int(WRITES_PER_SECOND * (opts.seconds + 5)) * opts.rounds
        subprocess.run([PY, "-c", TOKENS_SNIPPET, str(count), str(writing_tokens)], cwd=ROOT, env=env, check=True)

        bare_env = {**os.environ, "BENCH_DATABASE_URL": bare_url}
        subprocess.run(
            [PY, "-c", "import os, bare_app; bare_app.create_schema(os.environ['BENCH_DATABASE_URL'])"],
            cwd=BENCH,
            env=bare_env,
            check=True,
        )
        # Both servers stay up, and each ratio's two sides are measured one right after the other,
        # round after round: the machine's speed drifts by tens of percent over minutes, far more
        # than within one pair of runs.
        bare, bare_port = start_gunicorn("bare_app:app", BENCH, bare_env, work / "bare.log")
        scheduler = start_scheduler(env, work / "scheduler.log")
        product, port = start_gunicorn("wsgi:app", ROOT, env, work / "product.log")
        try:
            wait_ready(bare_port, "/constant", bare)
            wait_ready(port, "/healthz", product)
            bare_base, base = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{port}"
            today = dt.date.today()
            stats = f"/api/v1/stats/satisfaction?from={today - dt.timedelta(days=89)}&to={today}&group_by=department"
            me = [f"Authorization: Bearer {manager}"]
            agent_env = {"BENCH_AGENT_TOKEN": agent}
            rating_files = split_lines(tokens, opts.rounds, work / f"tokens-{backend}-round")
            writing_files = split_lines(writing_tokens, opts.rounds, work / f"tokens-writing-{backend}-round")
            # Each endpoint's first requests in a worker pay for lazy set-up (compiled statements,
            # schemas, the limiter's storage): a short unrecorded run first, as a live server has had.
            warm_up(f"{bare_base}/constant")
            warm_up(f"{bare_base}/read")
            warm_up(f"{bare_base}/insert", work / "insert.lua")
            warm_up(f"{base}/healthz")
            warm_up(f"{base}/api/v1/me", headers=me)
            warm_up(f"{base}/", work / "rating.lua", [str(warm_tokens), "2"])
            warm_up(f"{base}/api/v1/tickets", work / "ticket.lua", env=agent_env)
            warm_up(f"{base}{stats}", headers=me)

            seconds = opts.seconds

            def under_writes(round_: int) -> Run:
                writer = Writer(base, writing_files[round_], WRITES_PER_SECOND)
                writer.start()
                try:
                    return wrk(
                        f"product: stats GET, {WRITES_PER_SECOND} ratings/s", f"{base}{stats}", seconds, headers=me
                    )
                finally:
                    writer.halt.set()
                    writer.join(30)
                    result.written_per_round.append(writer.ok / seconds)

            measures: list[tuple[str, Callable[[int], Run]]] = [
                ("constant", lambda _r: wrk("bare: constant GET", f"{bare_base}/constant", seconds)),
                ("me", lambda _r: wrk("product: /api/v1/me (bearer)", f"{base}/api/v1/me", seconds, headers=me)),
                ("read", lambda _r: wrk("bare: one indexed read GET", f"{bare_base}/read", seconds)),
                ("insert", lambda _r: wrk("bare: insert POST", f"{bare_base}/insert", seconds, work / "insert.lua")),
                (
                    "rating",
                    lambda r: wrk(
                        "product: rating POST", f"{base}/", seconds, work / "rating.lua", [str(rating_files[r]), "2"]
                    ),
                ),
                (
                    "ticket",
                    lambda _r: wrk(
                        "product: ticket create POST",
                        f"{base}/api/v1/tickets",
                        seconds,
                        work / "ticket.lua",
                        env=agent_env,
                    ),
                ),
                (
                    "stats",
                    lambda _r: wrk(f"product: stats GET ({opts.ratings:,})", f"{base}{stats}", seconds, headers=me),
                ),
                ("stats_writing", under_writes),
                ("healthz", lambda _r: wrk("product: /healthz", f"{base}/healthz", seconds)),
            ]
            for round_ in range(opts.rounds):
                print(f"  -- round {round_ + 1} of {opts.rounds}", flush=True)
                for key, measure in measures:
                    result.rounds.setdefault(key, []).append(measure(round_))
            result.runs = {key: median_run(runs) for key, runs in result.rounds.items()}
            result.written = statistics.median(result.written_per_round)
            print(
                f"  (ratings written meanwhile, per round: {[round(w) for w in result.written_per_round]}/s)",
                flush=True,
            )
            result.rss_kib["bare"] = worker_rss(bare.pid)
            result.rss_kib["product"] = worker_rss(product.pid)
        finally:
            stop(scheduler)
            stop(product)
            stop(bare)
        if pg_name and opts.lock_waits:
            lock_waits(env, product_url, work, result, opts.lock_tokens)
        if opts.profile:
            profile(env, manager, stats, work, backend)
    finally:
        if pg_name:
            pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    return result


PROFILE_SNIPPET = """
import sys
from pyinstrument import Profiler
from core.app import create_app
app = create_app()
client = app.test_client()
path, token, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
client.get(path, headers={"Authorization": "Bearer " + token})  # warm up
profiler = Profiler(interval=0.0005)
with profiler:
    for _ in range(repeat):
        assert client.get(path, headers={"Authorization": "Bearer " + token}).status_code == 200
print(profiler.output_text(unicode=False, color=False, show_all=False))
"""


def profile(env: dict[str, str], manager: str, stats: str, work: Path, backend: str) -> None:
    out = subprocess.run(
        [PY, "-c", PROFILE_SNIPPET, stats, manager, "20"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    target = BENCH / "results" / f"profile-stats-{backend}.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_text(out)
    print(f"  profile of the stats GET written to {target}", flush=True)


def table(results: list[DbResult], seconds: int, rounds: int) -> str:
    rows = [
        ("constant", "bare: constant GET"),
        ("read", "bare: one indexed read GET"),
        ("insert", "bare: one-row insert POST"),
        ("healthz", "product: GET /healthz"),
        ("me", "product: GET /api/v1/me with a bearer token"),
        ("rating", "product: POST /api/v1/ratings"),
        ("ticket", "product: POST /api/v1/tickets"),
        ("stats", "product: GET /api/v1/stats/satisfaction (90 days, by department)"),
        ("stats_writing", f"product: the same statistics GET while {WRITES_PER_SECOND} ratings/s are written"),
    ]
    lines = [
        f"wrk -t2 -c8 -d{seconds}s, {rounds} rounds; gunicorn, 2 sync workers; "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        "Each round measures every endpoint once, a ratio's two sides back to back; the table shows each "
        "endpoint's median round, and each ratio is the median of its rounds' ratios.",
        "",
        "| database | endpoint | requests/s | p50 ms | p99 ms | non-2xx |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for res in results:
        for key, label in rows:
            run = res.runs[key]
            lines.append(
                f"| {res.backend} | {label} | {run.rps:.0f} | {run.p50_ms:.2f} | {run.p99_ms:.2f} | {run.errors} |"
            )
    lines += [
        "",
        "Acceptance ratios (issue #15): rating ÷ insert ≥ 50 % with p99 ≤ 5 × p50; ticket ÷ insert ≥ 40 %; "
        "/me ÷ constant ≥ 40 %; stats ÷ /me ≥ 90 %, and ≥ 70 % while ratings are written.",
        "",
        "| database | ratings | rating ÷ insert | rating p99 ÷ p50 | ticket ÷ insert | /me ÷ constant | stats ÷ /me "
        "| stats under writes ÷ /me | worker RSS bare | worker RSS product |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for res in results:
        r = res.runs

        def mib(sizes: list[int]) -> str:
            return ", ".join(f"{s / 1024:.0f} MiB" for s in sizes)

        rating = r["rating"]
        lines.append(
            f"| {res.backend} | {res.ratings:,} | {ratio(res, 'rating', 'insert'):.0%} | "
            f"{rating.p99_ms / rating.p50_ms if rating.p50_ms else 0:.1f} | "
            f"{ratio(res, 'ticket', 'insert'):.0%} | {ratio(res, 'me', 'constant'):.0%} | "
            f"{ratio(res, 'stats', 'me'):.0%} | "
            f"{ratio(res, 'stats_writing', 'me'):.0%} ({res.written:.0f} ratings/s) | "
            f"{mib(res.rss_kib.get('bare', []))} | {mib(res.rss_kib.get('product', []))} |"
        )
    lines += ["", "Each round's ratios:", ""]
    pairs = [
        ("rating", "insert"),
        ("ticket", "insert"),
        ("me", "constant"),
        ("me", "read"),
        ("stats", "me"),
        ("stats_writing", "me"),
    ]
    names = {"stats_writing": "stats under writes", "me": "/me", "read": "bare indexed read"}
    for res in results:
        for top, bottom in pairs:
            each = ", ".join(f"{a.rps / b.rps:.0%}" for a, b in zip(res.rounds[top], res.rounds[bottom], strict=True))
            lines.append(f"- {res.backend}, {names.get(top, top)} ÷ {names.get(bottom, bottom)}: {each}")
    lines += [
        "",
        "Not an acceptance ratio, for reading /me ÷ constant: /me ÷ the bare indexed read compares an "
        "authenticated call with the least a request that checks a stored credential must do.",
        "",
    ]
    for res in results:
        lines.append(f"- {res.backend}: /me ÷ bare indexed read {ratio(res, 'me', 'read'):.0%}")
    for res in results:
        if res.lock_share is not None:
            run = res.runs["rating16"]
            lines.append(
                f"\n{res.backend}, 16 concurrent rating writers (16 workers, 20 s): {run.rps:.0f} ratings/s, "
                f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms; active backends waiting on a lock: "
                f"{res.lock_share:.1%} of {res.lock_samples} samples every 50 ms (target < 5 %)"
            )
    return "\n".join(lines) + "\n"


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    mem = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    gib = int(mem.group(1)) / 1024 / 1024 if mem else 0
    return f"{os.cpu_count()} CPUs ({model.group(1).strip() if model else 'unknown'}), {gib:.0f} GiB memory"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="10,000 ratings and 3 s runs")
    parser.add_argument("--ratings", type=int, help="ratings to load (default 1,000,000)")
    parser.add_argument("--seconds", type=int, help="length of each wrk run (default 6)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of runs, each endpoint once a round (default 3)")
    parser.add_argument(
        "--tokens", type=int, help="fresh rating tokens to create (default 15,000; a run must not use one twice)"
    )
    parser.add_argument("--profile", action="store_true", help="profile the stats GET with pyinstrument")
    parser.add_argument("--no-lock-waits", dest="lock_waits", action="store_false", help="skip the lock-wait phase")
    parser.add_argument("--lock-tokens", type=int, default=12_000, help="tokens for the 16-writer phase")
    parser.add_argument("--work", type=Path, help="keep the databases and server logs in this directory")
    parser.add_argument("--out", type=Path, help="also write the table here (default bench/RESULTS.md)")
    opts = parser.parse_args()
    opts.ratings = opts.ratings if opts.ratings is not None else (10_000 if opts.quick else 1_000_000)
    opts.seconds = opts.seconds or (3 if opts.quick else 6)
    opts.tokens = opts.tokens or (6_000 if opts.quick else 15_000)
    if shutil.which("wrk") is None and os.geteuid() == 0:
        print("wrk is missing: installing Debian's wrk", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
        if shutil.which("wrk") is None:
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    backends = ["sqlite", "postgresql"] if opts.db == "both" else [opts.db]
    results = []
    with tempfile.TemporaryDirectory(prefix="haocha-bench-") as tmp:
        work = opts.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "rating.lua").write_text(RATING_LUA)
        (work / "ticket.lua").write_text(TICKET_LUA)
        (work / "insert.lua").write_text(INSERT_LUA)
        for backend in backends:
            results.append(bench_database(backend, opts, work))
    text = f"Machine: {machine()}\n\n" + table(results, opts.seconds, opts.rounds)
    print("\n" + text)
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / "latest.md").write_text(text)
    out = opts.out or (None if opts.quick else BENCH / "RESULTS.md")
    if out:
        out.write_text(text)
        print(f"written to {out}")


if __name__ == "__main__":
    main()
