"""The ``kehu`` command.

kehu run            migrate, load the demo company once, then serve with the job worker
kehu serve          the web server (gunicorn) only
kehu worker         the background-job worker (Celery, scheduler embedded)
kehu demo           load the demo company (idempotent)
kehu backup [FILE]  write every record and uploaded file to one file
kehu restore FILE   bring a backup back into an empty database
kehu createuser     create a user (interactive or with options)
kehu <django command> …  any of Django's manage.py commands (migrate, shell, …)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()


def _manage(args: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kehu", *args])


def serve(args: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="kehu serve")
    p.add_argument("--host", default=os.environ.get("KEHU_HOST", "127.0.0.1"))
    p.add_argument("--port", default=os.environ.get("KEHU_PORT", "8000"))
    p.add_argument("--workers", type=int, default=int(os.environ.get("KEHU_WEB_WORKERS", "3")))
    p.add_argument("--threads", type=int, default=int(os.environ.get("KEHU_WEB_THREADS", "4")))
    opts = p.parse_args(args)
    _django()
    from django.conf import settings
    from gunicorn.app.base import BaseApplication

    if not settings.STATIC_ROOT.exists():
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)

    from kehu.wsgi import application

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{opts.host}:{opts.port}")
            self.cfg.set("workers", opts.workers)
            self.cfg.set("threads", opts.threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", os.environ.get("KEHU_ACCESS_LOG") or None)
            self.cfg.set("proc_name", "kehu-web")
            # Each installation keeps gunicorn's control socket in its own data folder, so two
            # servers on one machine do not take each other's.
            self.cfg.set("control_socket", str(settings.DATA_DIR / "gunicorn.ctl"))

        def load(self):
            return application

    Server().run()
    return 0


def worker(args: list[str]) -> int:
    _django()
    from kehu.celery import app

    argv = [
        "worker",
        "--beat",
        "--loglevel",
        os.environ.get("KEHU_WORKER_LOGLEVEL", "INFO"),
        "--without-mingle",
        "--without-gossip",
        "--pool",
        "threads",
        "--concurrency",
        os.environ.get("KEHU_WORKER_CONCURRENCY", "2"),
    ]
    from django.conf import settings

    argv += ["--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]
    app.worker_main(argv + args)
    return 0


def run(args: list[str]) -> int:
    """What ``make run`` calls: prepare the embedded installation, then serve with a worker."""
    _django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("demo", once=True)
    env = dict(os.environ)
    children = [
        subprocess.Popen([sys.executable, "-m", "kehu.cli", "worker"], env=env),
        subprocess.Popen([sys.executable, "-m", "kehu.cli", "serve", *args], env=env),
    ]
    port = os.environ.get("KEHU_PORT", "8000")
    print(f"\nKehu is running on http://127.0.0.1:{port}/  (Ctrl+C stops it)\n", flush=True)

    def stop(*_a):
        for c in children:
            if c.poll() is None:
                c.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
    finally:
        stop()
        for c in children:
            try:
                c.wait(timeout=15)
            except subprocess.TimeoutExpired:
                c.kill()
    return max((c.returncode or 0) for c in children)


COMMANDS = {"serve": serve, "worker": worker, "run": run}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd in COMMANDS:
        return COMMANDS[cmd](rest) or 0
    if cmd == "manage":
        cmd, rest = (rest[0], rest[1:]) if rest else ("help", [])
    _manage([cmd, *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main())
