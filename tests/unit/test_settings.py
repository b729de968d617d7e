from __future__ import annotations

from pathlib import Path

import pytest

from intake.errors import ConfigError
from intake.settings import from_env


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOTLINE_DATA": str(tmp_path), **extra}


def test_defaults_follow_the_contract(tmp_path: Path) -> None:
    s = from_env(env(tmp_path))
    assert str(s.http) == "127.0.0.1:8080"
    assert str(s.smtp) == "127.0.0.1:2525"
    assert s.mailbox == "12345@hotline.local"
    assert s.policy == "guangzhou"
    assert s.sms == "stub"
    assert s.smtp_relay is None
    assert s.dev_clock is False
    assert s.database_url == f"sqlite:///{(tmp_path / 'hotline.sqlite3').resolve()}"
    assert s.mail_relays == ()  # no relay's Authentication-Results believed until named


def test_holiday_files_are_looked_for_every_30_seconds_unless_set(tmp_path: Path) -> None:
    assert from_env(env(tmp_path)).holidays_check_seconds == 30
    assert from_env(env(tmp_path, HOTLINE_HOLIDAYS_CHECK_SECONDS="0")).holidays_check_seconds == 0


def test_mail_relays_are_named_by_authserv_id(tmp_path: Path) -> None:
    s = from_env(env(tmp_path, HOTLINE_MAIL_RELAYS=" MX1.gz12345.gov.cn, ,mx2.gz12345.gov.cn"))
    assert s.mail_relays == ("mx1.gz12345.gov.cn", "mx2.gz12345.gov.cn")


def test_the_sms_signature_is_the_hotlines_own(tmp_path: Path) -> None:
    assert from_env(env(tmp_path)).sms_signature == "12345热线"
    assert from_env(env(tmp_path, HOTLINE_SMS_SIGNATURE="【惠州12345】")).sms_signature == "惠州12345"
    for bad in ("热", "一二三四五六七八九十一二三", "12345\n热线"):
        with pytest.raises(ConfigError, match="HOTLINE_SMS_SIGNATURE"):
            from_env(env(tmp_path, HOTLINE_SMS_SIGNATURE=bad))


def test_secrets_are_generated_once_and_shared_by_every_process(tmp_path: Path) -> None:
    first = from_env(env(tmp_path))
    second = from_env(env(tmp_path))
    assert len(first.secret_key) == 32
    assert first.secret_key == second.secret_key
    assert first.api_token == second.api_token
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("HOTLINE_HTTP", "localhost"),
        ("HOTLINE_HTTP", "127.0.0.1:99999"),
        ("HOTLINE_SMTP", "nope"),
        ("HOTLINE_POLICY", "beijing"),
        ("HOTLINE_SMS", "carrier-pigeon"),
        ("HOTLINE_DEV_CLOCK", "maybe"),
        ("HOTLINE_SECRET_KEY", "too-short"),
        ("HOTLINE_MAILBOX", "not-an-address"),
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"),
        ("TELEGRAM_API_BASE", "ftp://x"),
        ("HOTLINE_API_TOKEN", "short"),
        ("HOTLINE_HOLIDAYS_CHECK_SECONDS", "-1"),
        ("HOTLINE_HOLIDAYS_CHECK_SECONDS", "3601"),
    ],
)
def test_a_bad_value_stops_start_up_with_one_line_naming_the_variable(
    tmp_path: Path, var: str, value: str
) -> None:
    with pytest.raises(ConfigError) as err:
        from_env(env(tmp_path, **{var: value}))
    message = str(err.value)
    assert message.startswith(var)
    assert "\n" not in message


def test_toml_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text('hotline_policy = "huizhou"\nhotline_http = "0.0.0.0:9000"\nhotline_dev_clock = true\n')
    s = from_env(env(tmp_path, HOTLINE_CONFIG=str(cfg), HOTLINE_HTTP="127.0.0.1:9001"))
    assert s.policy == "huizhou"
    assert str(s.http) == "127.0.0.1:9001"
    assert s.dev_clock is True


def test_a_broken_toml_file_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match=r"^HOTLINE_CONFIG: .*bad\.toml"):
        from_env(env(tmp_path, HOTLINE_CONFIG=str(cfg)))


def test_postgres_urls_use_psycopg3(tmp_path: Path) -> None:
    s = from_env(env(tmp_path, DATABASE_URL="postgres://u@h:5432/db"))
    assert s.database_url == "postgresql+psycopg://u@h:5432/db"
