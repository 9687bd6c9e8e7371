import os
import subprocess
import sys

from django.test import Client


def _settings_import(env):
    full = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "KEHU_TESTING")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import kehu.settings"], env=full, capture_output=True, text=True
    )


def test_production_refuses_the_default_secret_key(tmp_path):
    r = _settings_import({"KEHU_PRODUCTION": "1", "KEHU_DATA_DIR": str(tmp_path)})
    assert r.returncode != 0 and "SECRET_KEY" in r.stderr
    r = _settings_import(
        {
            "KEHU_PRODUCTION": "1",
            "SECRET_KEY": "kehu-insecure-default-secret-key-change-me",
            "KEHU_DATA_DIR": str(tmp_path),
        }
    )
    assert r.returncode != 0 and "SECRET_KEY" in r.stderr


def test_production_refuses_debug(tmp_path):
    r = _settings_import(
        {"KEHU_PRODUCTION": "1", "SECRET_KEY": "x" * 50, "DEBUG": "1", "KEHU_DATA_DIR": str(tmp_path)}
    )
    assert r.returncode != 0 and "DEBUG" in r.stderr
    r = _settings_import({"KEHU_PRODUCTION": "1", "SECRET_KEY": "x" * 50, "KEHU_DATA_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr


def test_embedded_mode_generates_and_keeps_its_secret_key(tmp_path):
    code = "from django.conf import settings; import kehu.settings as s; print(s.SECRET_KEY)"
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "KEHU_TESTING", "DATABASE_URL")}
    env["KEHU_DATA_DIR"] = str(tmp_path)
    first = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    ).stdout.strip()
    second = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    ).stdout.strip()
    assert len(first) >= 50 and first == second
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert (tmp_path / "kehu.sqlite3").parent.exists()


def test_healthz_answers_json_when_the_database_is_reachable(db):
    resp = Client().get("/healthz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"


def test_money_and_dates_are_shown_the_chinese_way():
    from datetime import date
    from decimal import Decimal

    from django.utils import translation

    from kehu.core.templatetags.kehu import cell, money

    with translation.override("zh-hans"):
        assert money(Decimal("1234.5")) == "¥1,234.50"
        assert money(Decimal("0.005")) == "¥0.01"  # half-up
        assert money(Decimal("-1234567.125")) == "-¥1,234,567.13"
    assert cell(date(2026, 11, 23)) == "2026-11-23"


def test_models_and_migrations_agree(db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
