"""Configuration: defaults for development, loud failures for production."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from portal.config import DEFAULT_BASE_URL, ConfigError, Environment, load_config
from portal.crypto import PRODUCTION_KDF

GOOD_KEY = "k" * 40


def test_development_defaults_live_in_the_instance_folder(tmp_path: Path) -> None:
    config = load_config({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert config.env is Environment.DEVELOPMENT
    assert config.database_url == f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    assert config.base_url == DEFAULT_BASE_URL
    assert not config.is_production


def test_development_secret_is_created_once_private_and_reused(tmp_path: Path) -> None:
    first = load_config({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    second = load_config({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    key_file = tmp_path / "secret_key"
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.secret_key = "changed"  # type: ignore[misc]


def production(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "PORTAL_ENV": "production",
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "PORTAL_SECRET_KEY": GOOD_KEY,
        "PORTAL_DATABASE_URL": "postgresql+psycopg://portal@db/portal",
        "PORTAL_BASE_URL": "https://qr111.kz",
        "PORTAL_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    env.update(extra)
    return env


def test_production_with_everything_set(tmp_path: Path) -> None:
    config = load_config(production(tmp_path))
    assert config.is_production
    assert config.secret_key == GOOD_KEY
    assert config.base_url == "https://qr111.kz"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("PORTAL_SECRET_KEY", "PORTAL_SECRET_KEY must be set"),
        ("PORTAL_DATABASE_URL", "PORTAL_DATABASE_URL must be set"),
        ("PORTAL_BASE_URL", "PORTAL_BASE_URL must be set"),
        ("PORTAL_REDIS_URL", "PORTAL_REDIS_URL must be set"),
    ],
)
def test_production_refuses_to_start_without(tmp_path: Path, missing: str, message: str) -> None:
    env = production(tmp_path)
    del env[missing]
    with pytest.raises(ConfigError, match=message):
        load_config(env)
    assert not (tmp_path / "secret_key").exists(), "never a generated secret in production"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORTAL_SECRET_KEY", "short", "too short"),
        ("PORTAL_ENV", "staging", "is not one of"),
        ("PORTAL_BASE_URL", "http://qr111.kz", "https in production"),
        ("PORTAL_BASE_URL", "ftp://qr111.kz", "http"),
        ("PORTAL_BASE_URL", "https://qr111.kz/?a=1", "no query"),
        ("PORTAL_BASE_URL", "qr111.kz", "http"),
    ],
)
def test_bad_values_fail_loudly(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(production(tmp_path, **{name: value}))


def test_base_url_loses_its_trailing_slash(tmp_path: Path) -> None:
    config = load_config(production(tmp_path, PORTAL_BASE_URL="https://qr111.kz/"))
    assert config.base_url == "https://qr111.kz"


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("https://qr111.kz", "qr111.kz"),
        ("https://QR111.kz:8443/", "qr111.kz"),  # the port is not the host's
        ("https://портал.kz", "портал.kz"),  # Werkzeug compares its IDNA form
    ],
)
def test_production_answers_only_the_host_of_its_base_url(
    tmp_path: Path, base_url: str, host: str
) -> None:
    assert load_config(production(tmp_path, PORTAL_BASE_URL=base_url)).trusted_hosts == [host]


def test_development_answers_any_host(tmp_path: Path) -> None:
    """127.0.0.1, localhost, the test client's host, or a LAN address a phone can reach."""
    config = load_config({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert config.trusted_hosts is None
    with_base = load_config(
        {"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_BASE_URL": "http://192.168.1.20:5000"}
    )
    assert with_base.trusted_hosts is None


def test_key_derivation_defaults_to_the_production_minimum(tmp_path: Path) -> None:
    config = load_config(production(tmp_path))
    assert config.kdf == PRODUCTION_KDF
    assert (config.kdf.memory_kib, config.kdf.iterations, config.kdf.lanes) == (19456, 2, 1)


def test_key_derivation_can_be_made_stronger(tmp_path: Path) -> None:
    config = load_config(
        production(tmp_path, PORTAL_KDF_MEMORY_KIB="65536", PORTAL_KDF_ITERATIONS="3")
    )
    assert (config.kdf.memory_kib, config.kdf.iterations, config.kdf.lanes) == (65536, 3, 1)


def test_production_refuses_weaker_key_derivation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="too weak"):
        load_config(production(tmp_path, PORTAL_KDF_MEMORY_KIB="1024"))


def test_development_may_use_cheap_key_derivation(tmp_path: Path) -> None:
    env = {"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_KDF_MEMORY_KIB": "1024"}
    assert load_config(env).kdf.memory_kib == 1024


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORTAL_KDF_MEMORY_KIB", "lots"),
        ("PORTAL_KDF_ITERATIONS", "0"),
        ("PORTAL_KDF_LANES", "-1"),
        ("PORTAL_KDF_LANES", "64"),  # absurd: refused, not passed on to Argon2id
        ("PORTAL_KDF_MEMORY_KIB", "99999999"),
    ],
)
def test_bad_key_derivation_settings_fail_loudly(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match="PORTAL_KDF"):
        load_config(production(tmp_path, **{name: value}))


def test_retention_defaults_to_90_days_and_can_be_set(tmp_path: Path) -> None:
    assert load_config(production(tmp_path)).retention_days == 90
    assert load_config(production(tmp_path, PORTAL_RETENTION_DAYS="30")).retention_days == 30


@pytest.mark.parametrize("value", ["0", "-5", "ninety", "1.5", " 30", "٣٠", "36501"])
def test_a_bad_retention_period_fails_loudly(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="PORTAL_RETENTION_DAYS"):
        load_config(production(tmp_path, PORTAL_RETENTION_DAYS=value))


def test_production_refuses_rate_limits_in_memory_even_with_redis(tmp_path: Path) -> None:
    env = production(tmp_path, PORTAL_RATELIMIT_STORAGE_URL="memory://")
    with pytest.raises(ConfigError, match="counted by each gunicorn worker alone"):
        load_config(env)


def test_production_may_count_limits_in_a_redis_of_their_own(tmp_path: Path) -> None:
    env = production(tmp_path, PORTAL_RATELIMIT_STORAGE_URL="redis://limits:6379/1")
    del env["PORTAL_REDIS_URL"]
    config = load_config(env)
    assert config.limits.storage_url == "redis://limits:6379/1"
    assert config.redis_url is None


def test_development_keeps_limits_in_memory(tmp_path: Path) -> None:
    assert load_config({"PORTAL_INSTANCE_PATH": str(tmp_path)}).limits.storage_url == "memory://"


# ---- notifications (issue 18) ----


def test_smtp_url_says_tls_and_login_and_never_shows_the_password(tmp_path: Path) -> None:
    """smtp:// is STARTTLS (587), smtps:// TLS (465); the password is parsed, never echoed."""
    env = {"PORTAL_INSTANCE_PATH": str(tmp_path)}
    config = load_config({**env, "PORTAL_SMTP_URL": "smtp://duty%40111.kz:p%40ss@mail.kz"})
    smtp = config.notifications.smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.tls, smtp.username, smtp.password) == (
        "mail.kz",
        587,
        "starttls",
        "duty@111.kz",
        "p@ss",
    )
    assert "p@ss" not in repr(config)
    implicit = load_config({**env, "PORTAL_SMTP_URL": "smtps://mail.kz"}).notifications.smtp
    assert implicit is not None and (implicit.port, implicit.tls) == (465, "implicit")
    assert load_config(env).notifications.smtp is None


@pytest.mark.parametrize(
    "url", ["smtp+plain://mail.example.kz:25", "http://mail.kz", "smtp://", "smtp://h:port"]
)
def test_a_bad_smtp_url_is_refused_without_its_password(tmp_path: Path, url: str) -> None:
    """Plain SMTP only to a relay on this machine; the message never repeats a password."""
    with pytest.raises(ConfigError) as refused:
        load_config({"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_SMTP_URL": url + "?x"})
    assert "PORTAL_SMTP_URL" in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        load_config({"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_SMTP_URL": "ftp://u:secret@h"})
    assert "secret" not in str(refused.value)


def test_the_webhook_needs_its_own_long_secret(tmp_path: Path) -> None:
    """No default secret; https in production unless on loopback."""
    env = {"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_WEBHOOK_URL": "http://127.0.0.1:9/h"}
    with pytest.raises(ConfigError, match="PORTAL_WEBHOOK_SECRET"):
        load_config(env)
    with pytest.raises(ConfigError, match="PORTAL_WEBHOOK_SECRET"):
        load_config({**env, "PORTAL_WEBHOOK_SECRET": "short"})
    config = load_config({**env, "PORTAL_WEBHOOK_SECRET": "s" * 32})
    assert config.notifications.webhook_secret == "s" * 32
    assert "s" * 32 not in repr(config)
    with pytest.raises(ConfigError, match="https"):
        load_config(
            production(
                tmp_path,
                PORTAL_WEBHOOK_URL="http://hooks.example.kz/111",
                PORTAL_WEBHOOK_SECRET="s" * 32,
            )
        )


@pytest.mark.parametrize("hour", ["24", "-1", "8am", ""])
def test_the_digest_hour_is_a_kazakhstan_hour(tmp_path: Path, hour: str) -> None:
    """0 to 23; empty means the default, 8."""
    env = {"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_NOTIFY_DIGEST_HOUR": hour}
    if hour == "":
        assert load_config(env).notifications.digest_hour == 8
        return
    with pytest.raises(ConfigError, match="PORTAL_NOTIFY_DIGEST_HOUR"):
        load_config(env)
