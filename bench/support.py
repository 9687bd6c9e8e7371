"""Building blocks shared by the benchmark scenarios.

Standard library only (psycopg is imported lazily, for PostgreSQL URLs): a scratch database, the
environment a Kehu subprocess runs in, the real ``kehu serve`` server, a keep-alive HTTP client that
logs in through the login form, load phases run by threads, latency percentiles and CPU accounting
read from /proc.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
USER_AGENT = "kehu-bench/1 (http.client)"
HOST = "127.0.0.1"

# Environment variables that must not leak from the caller's shell into the benchmarked server: they
# would point it at another database, broker, cache or mail server, or change its mode.
_STRIPPED_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "DEBUG",
    "SECRET_KEY",
    "DJANGO_SETTINGS_MODULE",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "LOG_LEVEL",
)


class BenchError(RuntimeError):
    """A scenario could not run (set-up failed, server did not start, …)."""


def log(msg: str) -> None:
    print(f"  · {msg}", flush=True)


def python_bin() -> str:
    return sys.executable


def kehu_bin() -> str:
    """The ``kehu`` command of the virtualenv this runner was started with."""
    candidate = Path(sys.executable).with_name("kehu")
    if not candidate.exists():
        raise BenchError(
            f"{candidate} not found: run the benchmarks with the project's virtualenv "
            "(.venv/bin/python bench/run.py, or make bench)."
        )
    return str(candidate)


def check_assets() -> None:
    vendor = PROJECT_DIR / "kehu" / "static" / "vendor" / "bootstrap" / "bootstrap.min.css"
    if not vendor.exists():
        raise BenchError(
            f"front-end assets missing ({vendor}): run `make assets` "
            "(or .venv/bin/python scripts/copy_assets.py) first."
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


# --- the scratch database -------------------------------------------------------------------

DEMO_USERNAMES = (
    "admin",
    "executive",
    "supervisor",
    "manager",
    "manager2",
    "warehouse",
    "finance",
    "service",
)
BENCH_USER_PREFIX = "bench-"


@dataclass
class Database:
    url: str  # what DATABASE_URL is set to for the Kehu subprocesses
    engine: str  # "sqlite" or "postgresql"
    label: str  # printable (password masked)
    fresh: bool  # created for this run (dropped / deleted afterwards unless --keep)
    name: str = ""
    _pg_url: str = ""

    def describe(self) -> str:
        return (
            f"{self.engine} {'(fresh, created for this run)' if self.fresh else '(existing)'}: {self.label}"
        )


def _pg_conninfo(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    scheme = "postgresql"
    return urlunsplit(parts._replace(scheme=scheme, path="/" + dbname))


def _pg_connect(url: str, dbname: str):
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a Kehu dependency
        raise BenchError("psycopg is not installed in this virtualenv; cannot use PostgreSQL") from exc
    try:
        return psycopg.connect(_pg_conninfo(url, dbname), autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise BenchError(f"cannot connect to PostgreSQL ({mask_url(url)}): {exc}") from exc


def _assert_bench_database(url: str, dbname: str) -> None:
    """Refuse an existing database that holds anyone but the demo and benchmark users: loading the
    demo company (whose admin password is public) into a real installation would be a hazard."""
    with _pg_connect(url, dbname) as conn:
        row = conn.execute("SELECT to_regclass('public.accounts_user')").fetchone()
        if row[0] is None:
            return
        others = conn.execute(
            "SELECT count(*) FROM accounts_user WHERE NOT (username = ANY(%s)) AND username NOT LIKE %s",
            (list(DEMO_USERNAMES), BENCH_USER_PREFIX + "%"),
        ).fetchone()[0]
    if others:
        raise BenchError(
            f"database {dbname!r} exists and has {others} user(s) that are neither demo nor benchmark users: "
            "it looks like a real installation. Point --database-url at a dedicated benchmark database "
            "(it is created when missing)."
        )


def open_database(requested: str | None, workdir: Path) -> Database:
    """The database a scenario runs on: a fresh SQLite file in ``workdir`` by default; PostgreSQL when
    a postgres:// URL is given (the database is created when missing)."""
    if not requested:
        path = workdir / "kehu.sqlite3"
        return Database(url=f"sqlite:///{path}", engine="sqlite", label=str(path), fresh=True)
    scheme = urlsplit(requested).scheme.lower()
    if scheme.startswith("sqlite"):
        path = Path(urlsplit(requested).path).resolve()
        if path == (PROJECT_DIR / "var" / "kehu.sqlite3").resolve():
            raise BenchError("refusing to benchmark on var/kehu.sqlite3, the installation's own database")
        return Database(url=requested, engine="sqlite", label=str(path), fresh=not path.exists())
    if scheme not in ("postgres", "postgresql", "pgsql", "psql"):
        raise BenchError(f"unsupported database URL scheme {scheme!r} (sqlite:// or postgres://)")
    parts = urlsplit(requested)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1", None, ""):
        raise BenchError(f"benchmarks only talk to this machine; {parts.hostname} is not 127.0.0.1")
    dbname = parts.path.lstrip("/")
    if not dbname:
        raise BenchError("the PostgreSQL URL names no database")
    from psycopg import sql

    with _pg_connect(requested, "postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    if exists:
        _assert_bench_database(requested, dbname)
    return Database(
        url=requested,
        engine="postgresql",
        label=mask_url(requested),
        fresh=not exists,
        name=dbname,
        _pg_url=requested,
    )


def drop_database(db: Database) -> None:
    """Remove a database this run created; an existing one is left in place."""
    if not db.fresh:
        return
    if db.engine == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(db.label + suffix).unlink(missing_ok=True)
        return
    from psycopg import sql

    with _pg_connect(db._pg_url, "postgres") as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name)))


# --- Kehu subprocesses ----------------------------------------------------------------------


def kehu_env(db: Database, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment every Kehu subprocess of a scenario shares: its own data folder and database,
    nothing inherited that could reach another server."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_ENV and not k.startswith("KEHU_")}
    env.update(
        KEHU_DATA_DIR=str(data_dir),
        DATABASE_URL=db.url,
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="0",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        # gunicorn >= 25 opens a control socket in $XDG_RUNTIME_DIR or ~/.gunicorn; keep ours private
        # so it cannot clash with a Kehu that is already running on this machine.
        XDG_RUNTIME_DIR=str(data_dir),
    )
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


def run_cmd(cmd: list[str], env: dict[str, str], *, timeout: float = 120) -> str:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(cmd[:3])}… did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = (proc.stdout[-1500:] + "\n" + proc.stderr[-3000:]).strip()
        raise BenchError(f"{' '.join(cmd[:3])}… failed (exit {proc.returncode}):\n{tail}")
    log(f"{Path(cmd[0]).name} {' '.join(a for a in cmd[1:2])} … {time.perf_counter() - t0:.1f} s")
    return proc.stdout


def django_script(code: str, env: dict[str, str], *, timeout: float = 120) -> dict:
    """Run ``code`` with Django set up (same env as the server); it must print one JSON object last."""
    prologue = (
        "import os, json, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'kehu.settings')\n"
        "django.setup()\n"
    )
    out = run_cmd([python_bin(), "-c", prologue + code], env, timeout=timeout)
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"the Django script printed no JSON:\n{out[-1000:]}")


def run_streaming(cmd: list[str], env: dict[str, str], *, timeout: float, prefix: str = "") -> str:
    """Run ``cmd`` (in its own process group, from the project folder), print each line of its output
    as it comes, and return all of it.  For long steps such as a scenario's measuring subprocess:
    the runner's output shows where it is.  A non-zero exit or the ``timeout`` raises BenchError
    (after ending the process group it started)."""
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
    )
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            print(f"{prefix}{line}", end="" if line.endswith("\n") else "\n", flush=True)

    reader = threading.Thread(target=pump, name="bench-output", daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this call started
        proc.wait(timeout=10)
        raise BenchError(f"{' '.join(cmd[:3])}… did not finish within {timeout:.0f} s") from exc
    except BaseException:  # interrupted: do not leave the subprocess running
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        raise
    reader.join(timeout=10)
    out = "".join(lines)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd[:3])}… failed (exit {proc.returncode}):\n{out[-3000:]}")
    return out


class Server:
    """``kehu serve`` as a subprocess (gunicorn, gthread workers), in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path, *, workers=None, threads=None):
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.cmd = [kehu_bin(), "serve", "--host", HOST, "--port", str(self.port)]
        if workers:
            self.cmd += ["--workers", str(workers)]
        if threads:
            self.cmd += ["--threads", str(threads)]
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 40) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=PROJECT_DIR,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"kehu serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/healthz", headers={"User-Agent": USER_AGENT})
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                if resp.status == 200:
                    return
                last = f"{resp.status} {body[:200]!r}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise BenchError(
            f"/healthz did not answer 200 within {timeout:.0f} s (last: {last}):\n{self.log_tail()}"
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # gunicorn: graceful shutdown
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # our own process group only
                self.proc.wait(timeout=5)
        if self._log:
            self._log.close()
            self._log = None


# --- the HTTP client ------------------------------------------------------------------------

_RETRYABLE = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    http.client.BadStatusLine,
)
_CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    status: int
    body: bytes
    seconds: float
    location: str = ""


class Client:
    """One simulated browser: one keep-alive connection, a cookie jar, browser-like headers."""

    def __init__(self, port: int, *, timeout: float = 30):
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.reconnects = 0
        self.connects = 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        h = {
            "Host": f"{HOST}:{self.port}",
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8",
        }
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if extra:
            h.update(extra)
        return h

    def request(self, method: str, path: str, *, body: bytes | None = None, headers=None) -> Response:
        hdrs = self._headers(headers)
        for attempt in range(2):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                self.connects += 1
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
            except _RETRYABLE:
                self.close()
                # A keep-alive connection the server closed while idle: reconnect once, as browsers do.
                if fresh or attempt:
                    raise
                self.reconnects += 1
                continue
            except BaseException:
                self.close()
                raise
            seconds = time.perf_counter() - t0
            for raw in resp.headers.get_all("Set-Cookie") or ():
                jar = SimpleCookie()
                jar.load(raw)
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0" or morsel.value == "":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            if resp.will_close:
                self.close()
            return Response(resp.status, data, seconds, resp.headers.get("Location", ""))
        raise AssertionError("unreachable")

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_form(self, path: str, fields: dict[str, str], *, referer: str) -> Response:
        return self.request(
            "POST",
            path,
            body=urlencode(fields).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://{HOST}:{self.port}",
                "Referer": f"http://{HOST}:{self.port}{referer}",
            },
        )

    def _form_token(self, html: bytes) -> str:
        m = _CSRF_INPUT.search(html)
        if m:
            return m.group(1).decode()
        if "csrftoken" in self.cookies:
            return self.cookies["csrftoken"]
        raise BenchError("no CSRF token in the page or the cookies")

    def login(self, username: str, password: str, path: str = "/accounts/login/") -> None:
        """Log in through the real form: GET for the csrftoken cookie, POST with csrfmiddlewaretoken."""
        page = self.get(path)
        if page.status != 200:
            raise BenchError(f"GET {path} answered {page.status}")
        token = self._form_token(page.body)
        resp = self.post_form(
            path,
            {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/"},
            referer=path,
        )
        if resp.status != 302 or "sessionid" not in self.cookies:
            snippet = resp.body[:300].decode(errors="replace")
            raise BenchError(f"log-in as {username} failed: {resp.status} {resp.location} {snippet}")

    def logout(self, path: str = "/accounts/logout/") -> None:
        page = self.get("/")
        if page.status != 200:
            return
        try:
            token = self._form_token(page.body)
        except BenchError:
            return
        self.post_form(path, {"csrfmiddlewaretoken": token}, referer="/")


# --- measuring ------------------------------------------------------------------------------


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_summary(seconds: list[float]) -> dict:
    """Count, mean and p50/p95/p99/max (nearest rank) in milliseconds of a list of durations."""
    values = sorted(seconds)
    return {
        "n": len(values),
        "mean_ms": 1000 * sum(values) / len(values) if values else math.nan,
        "p50_ms": 1000 * percentile(values, 50),
        "p95_ms": 1000 * percentile(values, 95),
        "p99_ms": 1000 * percentile(values, 99),
        "max_ms": 1000 * values[-1] if values else math.nan,
    }


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, str, float] | None:
    """(parent pid, command name, CPU seconds used) of a process, from /proc; None when unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.find("(") + 1 : raw.rfind(")")]
    rest = raw[raw.rfind(")") + 2 :].split()
    # fields after the command: state ppid … utime (index 11) stime (12)
    return int(rest[1]), comm, (int(rest[11]) + int(rest[12])) / _CLK_TCK


def all_processes() -> dict[int, tuple[int, str, float]]:
    """Every process of the machine: pid -> (parent pid, command name, CPU seconds); empty without /proc."""
    stats = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return stats
    for entry in proc.iterdir():
        if entry.name.isdigit():
            st = _proc_stat(int(entry.name))
            if st:
                stats[int(entry.name)] = st
    return stats


def process_tree_cpu(root: int, stats: dict[int, tuple[int, str, float]] | None = None) -> dict[int, float]:
    """CPU seconds used by ``root`` and all its descendants, per pid (empty where /proc is missing)."""
    stats = all_processes() if stats is None else stats
    children: dict[int, list[int]] = {}
    for pid, (ppid, _comm, _cpu) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            out[pid] = stats[pid][2]
        todo.extend(children.get(pid, ()))
    return out


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


def own_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def postgres_backends(dbname: str) -> list[int]:
    """Pids of the PostgreSQL backends serving ``dbname`` (their command line names it)."""
    pids = []
    proc = Path("/proc")
    if not dbname or not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("postgres: ") and f" {dbname} " in cmd:
            pids.append(int(entry.name))
    return pids


def _process_label(pid: int, comm: str) -> str:
    """A short name for a process: its command line without the interpreter's path, or its name."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return comm
    words = [w.decode(errors="replace") for w in argv if w]
    if not words:
        return comm
    words[0] = Path(words[0]).name
    if len(words) > 1 and words[0].startswith("python"):
        words = words[1:]
        words[0] = Path(words[0]).name
    return " ".join(" ".join(words).split())[:48]


@dataclass
class CpuSample:
    """CPU seconds used so far by the server's process tree, the database's backends (PostgreSQL),
    this process (the clients), every other process, and the whole machine."""

    server: dict[int, float]
    db: dict[int, float]
    machine: tuple[float, float] | None
    client: float
    others: dict[int, tuple[str, float]]

    @classmethod
    def take(cls, server_pid: int, db_name: str = "") -> CpuSample:
        everyone = all_processes()
        server = process_tree_cpu(server_pid, everyone)
        db_pids = set(postgres_backends(db_name)) if db_name else set()
        db = {pid: everyone[pid][2] for pid in db_pids if pid in everyone}
        mine = {os.getpid(), *server, *db}
        others = {pid: (comm, cpu) for pid, (_pp, comm, cpu) in everyone.items() if pid not in mine}
        return cls(server, db, machine_cpu(), own_cpu(), others)

    def usage_since(self, before: CpuSample, wall: float) -> dict:
        def delta(now: dict[int, float], then: dict[int, float]) -> float:
            return sum(cpu - then.get(pid, 0.0) for pid, cpu in now.items())

        server = delta(self.server, before.server) / wall if self.server else None
        db = delta(self.db, before.db) / wall if self.db else None
        client = (self.client - before.client) / wall
        busy = other = None
        if self.machine and before.machine and self.machine[1] > before.machine[1]:
            busy = 100 * (self.machine[0] - before.machine[0]) / (self.machine[1] - before.machine[1])
            cores = (os.cpu_count() or 1) * busy / 100
            other = max(0.0, cores - (server or 0) - (db or 0) - client)
        # who else was busy (processes alive at the end of the phase)
        per_pid: Counter = Counter()
        for pid, (comm, cpu) in self.others.items():
            was = before.others.get(pid)
            used = cpu - (was[1] if was and was[0] == comm else 0.0)
            if used > 0:
                per_pid[pid] = used / wall
        by_name: Counter = Counter()
        for pid, cores in per_pid.most_common(8):
            by_name[_process_label(pid, self.others[pid][0])] += cores
        return {
            "server_cpu_cores": server,
            "db_cpu_cores": db,
            "client_cpu_cores": client,
            "other_cpu_cores": other,
            "machine_cpu_busy_pct": busy,
            "other_processes": {name: round(c, 3) for name, c in by_name.most_common(5) if c >= 0.01},
        }


class CpuMeter:
    """Where the CPU went during an in-process measurement (a scenario that runs Django itself):
    this process, the PostgreSQL backends of ``db_name``, and everything else on the machine.

        meter = CpuMeter(db_name); ...; usage = meter.stop()  # cores, averaged over the phase
    """

    def __init__(self, db_name: str = ""):
        self.db_name = db_name
        self.t0 = time.perf_counter()
        self.own0 = own_cpu()
        self.machine0 = machine_cpu()
        self.db0 = self._db()

    def _db(self) -> dict[int, float]:
        if not self.db_name:
            return {}
        stats = all_processes()
        return {pid: stats[pid][2] for pid in postgres_backends(self.db_name) if pid in stats}

    def stop(self) -> dict:
        wall = time.perf_counter() - self.t0
        own = (own_cpu() - self.own0) / wall if wall else math.nan
        db_now = self._db()
        db = sum(cpu - self.db0.get(pid, 0.0) for pid, cpu in db_now.items()) / wall if self.db_name else None
        machine = machine_cpu()
        other = None
        if machine and self.machine0 and machine[1] > self.machine0[1]:
            busy = (machine[0] - self.machine0[0]) / (machine[1] - self.machine0[1])
            other = max(0.0, (os.cpu_count() or 1) * busy - own - (db or 0.0))
        return {"seconds": wall, "self_cpu_cores": own, "db_cpu_cores": db, "other_cpu_cores": other}


def background_load(seconds: float = 1.0) -> float | None:
    """Cores kept busy by whatever runs on the machine, over ``seconds`` of our own idleness."""
    a = machine_cpu()
    time.sleep(seconds)
    b = machine_cpu()
    if not a or not b or b[1] <= a[1]:
        return None
    return (os.cpu_count() or 1) * (b[0] - a[0]) / (b[1] - a[1])


@dataclass
class ClientTally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    bytes_ok: int = 0
    ok: int = 0
    first_error: str = ""


def run_phase(
    clients: list[Client], path: str, duration: float, server_pid: int | None = None, db_name: str = ""
) -> dict:
    """Every client requests ``path`` in a loop for ``duration`` seconds, all starting together.
    A response counts as a page when its status is 200; anything else (and any exception) is an error."""
    tallies = [ClientTally() for _ in clients]
    barrier = threading.Barrier(len(clients) + 1)
    start_box: list[float] = []

    def work(client: Client, tally: ClientTally) -> None:
        barrier.wait()
        deadline = start_box[0] + duration
        failures_in_a_row = 0
        while time.perf_counter() < deadline:
            try:
                r = client.get(path)
            except Exception as exc:  # a refused or broken connection, a timeout
                key = f"exception:{type(exc).__name__}"
                tally.statuses[key] += 1
                tally.first_error = tally.first_error or f"{key}: {exc}"
                failures_in_a_row += 1
                if failures_in_a_row > 50:  # the server is gone; stop hammering
                    break
                time.sleep(0.05)
                continue
            failures_in_a_row = 0
            tally.latencies.append(r.seconds)
            tally.statuses[str(r.status)] += 1
            if r.status == 200:
                tally.ok += 1
                tally.bytes_ok += len(r.body)
            elif not tally.first_error:
                tally.first_error = f"{r.status} {r.location} {r.body[:200].decode(errors='replace')}".strip()

    threads = [
        threading.Thread(target=work, args=(c, t), name=f"bench-client-{i}", daemon=True)
        for i, (c, t) in enumerate(zip(clients, tallies, strict=True))
    ]
    for t in threads:
        t.start()
    before = CpuSample.take(server_pid, db_name) if server_pid else None
    start_box.append(time.perf_counter())
    barrier.wait()
    for t in threads:
        t.join(timeout=duration + 60)
    wall = time.perf_counter() - start_box[0]
    cpu = CpuSample.take(server_pid, db_name).usage_since(before, wall) if before else {}

    latencies = sorted(x for t in tallies for x in t.latencies)
    statuses: Counter = Counter()
    for t in tallies:
        statuses.update(t.statuses)
    requests = sum(statuses.values())
    ok = sum(t.ok for t in tallies)
    return {
        "path": path,
        "clients": len(clients),
        "seconds": wall,
        "requests": requests,
        "pages": ok,
        "errors": requests - ok,
        "pages_per_s": ok / wall if wall else math.nan,
        "requests_per_s": requests / wall if wall else math.nan,
        "mean_ms": 1000 * sum(latencies) / len(latencies) if latencies else math.nan,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p95_ms": 1000 * percentile(latencies, 95),
        "p99_ms": 1000 * percentile(latencies, 99),
        "max_ms": 1000 * latencies[-1] if latencies else math.nan,
        "kib_per_page": sum(t.bytes_ok for t in tallies) / ok / 1024 if ok else math.nan,
        "statuses": dict(sorted(statuses.items())),
        "first_error": next((t.first_error for t in tallies if t.first_error), ""),
        **cpu,
    }


@contextlib.contextmanager
def workdir(keep: bool):
    path = Path(tempfile.mkdtemp(prefix="kehu-bench-"))
    try:
        yield path
    finally:
        if keep:
            log(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)
