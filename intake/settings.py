"""One Settings object, read once from the environment and an optional TOML file.

Names are CONTRACT.md's. A bad value stops start-up with one line naming the variable.
"""

from __future__ import annotations

import base64
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from intake.errors import ConfigError
from intake.policy.reader import PROFILE_NAMES

SMS_GATEWAYS = ("stub", "http")


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    http: HostPort = field(default_factory=lambda: HostPort("127.0.0.1", 8080))
    smtp: HostPort = field(default_factory=lambda: HostPort("127.0.0.1", 2525))
    mailbox: str = "12345@hotline.local"
    smtp_relay: HostPort | None = None
    policy: str = "guangzhou"
    sms: str = "stub"
    sms_api_url: str | None = None
    api_token: str = ""
    sms_secret: str = ""  # HMAC key of the signed SMS webhooks (channels.signing)
    # The back-office feed (issue 21): events POSTed to this URL, signed with this secret
    backoffice_webhook: str | None = None
    backoffice_secret: str = ""
    secret_key: bytes = b""
    dev_clock: bool = False
    telegram_token: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_api_base: str = "https://api.telegram.org"
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str = ""
    relay_stale_seconds: int = 60
    # How long a worker's claim on a notice it is sending lasts (notifier.deliver): after it, a
    # notice whose worker died mid-send is ``uncertain`` for an agent. Longer than any provider's
    # timeout plus the group hand-over margin (45 s), hence at least 60.
    delivery_lease_seconds: int = 120
    store_threads: int = 0  # 0: chosen for the database (channels/web.py store_threads)
    rate_per_minute: int = 20  # messages one sender may send a minute before the guard steps in
    # Failed console logins from one address in 15 minutes before 429 (per account it is 5). A
    # hotline's agents often share one address out of their building: raise it there.
    login_failures_per_address: int = 20
    # Wrong web-chat tokens (or guessed session ids) from one address in 15 minutes before more
    # wrong ones get 429 (RELIABILITY.md S4); a right token always passes (carrier NAT: many
    # citizens share one address).
    chat_token_failures_per_address: int = 50
    max_streams: int = 500  # live-update streams one web process holds open (429 beyond)
    mail_quota: int = 30  # mails one sender may send an hour (a client address: ten times)
    retention_days: int = 0  # texts of messages kept this long; 0: the profiles' longest period
    # How often each process looks for a new or changed holiday override file (seconds; 0: before
    # every deadline calculation). No restart is needed for one (intake.policy.calendar).
    holidays_check_seconds: int = 30
    # Reverse proxies whose X-Forwarded-For/Proto/Host are believed (HOTLINE_TRUSTED_PROXIES:
    # addresses or networks, comma-separated); from anyone else those headers are ignored.
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    # The authserv-ids of the mail relays in front of the SMTP listener (HOTLINE_MAIL_RELAYS,
    # comma-separated): their Authentication-Results headers are recorded with each mail; any
    # other such header was written by someone else and is ignored (RFC 8601 §5).
    mail_relays: tuple[str, ...] = ()
    # The hotline's approved SMS signature (签名, HOTLINE_SMS_SIGNATURE): the platform puts it in
    # 【】 before every text, as carriers require; the stub's outbox shows it as the handset does.
    sms_signature: str = "12345热线"
    hotline_name: str = "12345政务服务便民热线"  # HOTLINE_NAME: how mail to citizens is signed

    @property
    def holidays_dir(self) -> Path:
        """Operator overrides for years the calendar library does not know yet."""
        return self.data_dir / "holidays"


def _hostport(name: str, value: str) -> HostPort:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: expected host:port, got {value!r}")
    return HostPort(host.strip("[]"), int(port))


def _bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}: expected 0 or 1, got {value!r}")


def _whole(name: str, value: str, low: int, high: int | None) -> int:
    """A whole number from the environment, ``low`` to ``high`` (no upper bound when None)."""
    if (
        not value.isascii()
        or not value.isdigit()
        or int(value) < low
        or (high is not None and int(value) > high)
    ):
        bounds = f"{low}..{high}" if high is not None else f"a whole number of at least {low}"
        raise ConfigError(f"{name}: expected {bounds}, got {value!r}")
    return int(value)


def _key(name: str, value: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
    except ValueError as exc:
        raise ConfigError(f"{name}: not base64 ({exc})") from None
    if len(raw) != 32:
        raise ConfigError(f"{name}: must be 32 bytes, base64-encoded (got {len(raw)} bytes)")
    return raw


def _load_toml(path: str) -> dict[str, str]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"HOTLINE_CONFIG: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"HOTLINE_CONFIG: {path}: {exc}") from None
    out: dict[str, str] = {}
    for k, v in data.items():
        if isinstance(v, bool):
            v = "1" if v else "0"
        out[k.upper()] = str(v)
    return out


def load_key_file(path: Path) -> bytes:
    """Read the at-rest key, creating it (mode 0600) on first run."""
    if path.exists():
        return _key(f"HOTLINE_SECRET_KEY (file {path})", path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.urlsafe_b64encode(raw).decode())
    return raw


def load_token_file(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    return token


def from_env(environ: Mapping[str, str] | None = None, *, create_secrets: bool = True) -> Settings:
    """Build Settings from the environment (and the TOML file named by HOTLINE_CONFIG).

    Environment variables win over the file. Missing secrets are generated into the data folder
    on first run, so every process of one installation shares them.
    """
    env = dict(os.environ if environ is None else environ)
    if env.get("HOTLINE_CONFIG"):
        file_values = _load_toml(env["HOTLINE_CONFIG"])
        env = {**file_values, **env}

    s = Settings()
    data_dir = Path(env.get("HOTLINE_DATA", "var"))
    changes: dict[str, object] = {"data_dir": data_dir}
    if "HOTLINE_HTTP" in env:
        changes["http"] = _hostport("HOTLINE_HTTP", env["HOTLINE_HTTP"])
    if "HOTLINE_SMTP" in env:
        changes["smtp"] = _hostport("HOTLINE_SMTP", env["HOTLINE_SMTP"])
    if env.get("HOTLINE_SMTP_RELAY"):
        changes["smtp_relay"] = _hostport("HOTLINE_SMTP_RELAY", env["HOTLINE_SMTP_RELAY"])
    if "HOTLINE_MAILBOX" in env:
        mailbox = env["HOTLINE_MAILBOX"].strip().lower()
        if mailbox.count("@") != 1 or mailbox.startswith("@") or mailbox.endswith("@"):
            raise ConfigError(f"HOTLINE_MAILBOX: not an email address: {env['HOTLINE_MAILBOX']!r}")
        changes["mailbox"] = mailbox
    if "HOTLINE_POLICY" in env:
        policy = env["HOTLINE_POLICY"].strip()
        if policy not in PROFILE_NAMES and not policy.endswith(".toml"):
            raise ConfigError(
                f"HOTLINE_POLICY: unknown profile {policy!r} (one of {', '.join(PROFILE_NAMES)})"
            )
        changes["policy"] = policy
    if "HOTLINE_SMS" in env:
        sms = env["HOTLINE_SMS"].strip()
        if sms not in SMS_GATEWAYS:
            raise ConfigError(f"HOTLINE_SMS: unknown gateway {sms!r} (one of {', '.join(SMS_GATEWAYS)})")
        changes["sms"] = sms
    if env.get("HOTLINE_SMS_API_URL"):
        changes["sms_api_url"] = env["HOTLINE_SMS_API_URL"]
    if "HOTLINE_DEV_CLOCK" in env:
        changes["dev_clock"] = _bool("HOTLINE_DEV_CLOCK", env["HOTLINE_DEV_CLOCK"])
    for var, attr in (
        ("TELEGRAM_TOKEN", "telegram_token"),
        ("TELEGRAM_WEBHOOK_SECRET", "telegram_webhook_secret"),
    ):
        if env.get(var):
            changes[attr] = env[var]
    if env.get("TELEGRAM_API_BASE"):
        base = env["TELEGRAM_API_BASE"].rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"TELEGRAM_API_BASE: expected an http(s) URL, got {base!r}")
        changes["telegram_api_base"] = base

    for var, attr, low, high in (
        ("HOTLINE_RELAY_STALE_SECONDS", "relay_stale_seconds", 1, 86400),
        ("HOTLINE_DELIVERY_LEASE_SECONDS", "delivery_lease_seconds", 60, 86400),
        ("HOTLINE_RATE_PER_MINUTE", "rate_per_minute", 1, None),
        ("HOTLINE_LOGIN_FAILURES_PER_ADDRESS", "login_failures_per_address", 1, None),
        ("HOTLINE_CHAT_TOKEN_FAILURES_PER_ADDRESS", "chat_token_failures_per_address", 1, None),
        ("HOTLINE_MAIL_QUOTA", "mail_quota", 1, None),
        ("HOTLINE_RETENTION_DAYS", "retention_days", 1, None),
        ("HOTLINE_HOLIDAYS_CHECK_SECONDS", "holidays_check_seconds", 0, 3600),
        ("HOTLINE_MAX_STREAMS", "max_streams", 1, 100_000),
        ("HOTLINE_STORE_THREADS", "store_threads", 1, 64),
    ):
        if env.get(var):
            changes[attr] = _whole(var, env[var], low, high)
    if env.get("HOTLINE_TRUSTED_PROXIES"):
        try:
            changes["trusted_proxies"] = tuple(
                ip_network(part.strip(), strict=False)
                for part in env["HOTLINE_TRUSTED_PROXIES"].split(",")
                if part.strip()
            )
        except ValueError as exc:
            raise ConfigError(f"HOTLINE_TRUSTED_PROXIES: {exc}") from None
    if env.get("HOTLINE_SMS_SIGNATURE"):
        signature = env["HOTLINE_SMS_SIGNATURE"].strip().strip("【】[]")
        if not 2 <= len(signature) <= 12 or any(c in signature for c in "【】\r\n"):
            raise ConfigError("HOTLINE_SMS_SIGNATURE: 2 to 12 characters, without 【】 or line breaks")
        changes["sms_signature"] = signature
    if env.get("HOTLINE_NAME"):
        name = " ".join(env["HOTLINE_NAME"].split())
        if not 2 <= len(name) <= 40:
            raise ConfigError("HOTLINE_NAME: 2 to 40 characters")
        changes["hotline_name"] = name
    if env.get("HOTLINE_MAIL_RELAYS"):
        changes["mail_relays"] = tuple(
            part.strip().lower() for part in env["HOTLINE_MAIL_RELAYS"].split(",") if part.strip()
        )
    if env.get("DATABASE_URL"):
        url = env["DATABASE_URL"]
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        if not url.startswith(("sqlite", "postgresql")):
            raise ConfigError(
                f"DATABASE_URL: only sqlite and postgresql are supported, got {url.split(':')[0]!r}"
            )
        changes["database_url"] = url
    else:
        changes["database_url"] = f"sqlite:///{(data_dir / 'hotline.sqlite3').resolve()}"
    if env.get("REDIS_URL"):
        url = env["REDIS_URL"]
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"REDIS_URL: expected redis://, rediss:// or unix://, got {url!r}")
        changes["redis_url"] = url

    if env.get("HOTLINE_SECRET_KEY"):
        changes["secret_key"] = _key("HOTLINE_SECRET_KEY", env["HOTLINE_SECRET_KEY"])
    elif create_secrets:
        changes["secret_key"] = load_key_file(data_dir / "secret.key")
    if env.get("HOTLINE_API_TOKEN"):
        token = env["HOTLINE_API_TOKEN"].strip()
        if len(token) < 16:
            raise ConfigError("HOTLINE_API_TOKEN: must be at least 16 characters")
        changes["api_token"] = token
    elif create_secrets:
        changes["api_token"] = load_token_file(data_dir / "api-token")
    if env.get("HOTLINE_SMS_SECRET"):
        secret = env["HOTLINE_SMS_SECRET"].strip()
        if len(secret) < 16:
            raise ConfigError("HOTLINE_SMS_SECRET: must be at least 16 characters")
        changes["sms_secret"] = secret
    elif create_secrets:
        changes["sms_secret"] = load_token_file(data_dir / "sms-secret")
    if env.get("HOTLINE_BACKOFFICE_WEBHOOK"):
        url = env["HOTLINE_BACKOFFICE_WEBHOOK"].strip()
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"HOTLINE_BACKOFFICE_WEBHOOK: expected an http(s) URL, got {url!r}")
        changes["backoffice_webhook"] = url
        secret = env.get("HOTLINE_BACKOFFICE_SECRET", "").strip()
        if len(secret) < 16:
            raise ConfigError(
                "HOTLINE_BACKOFFICE_SECRET: at least 16 characters are needed with HOTLINE_BACKOFFICE_WEBHOOK"
            )
        changes["backoffice_secret"] = secret
    return replace(s, **changes)  # type: ignore[arg-type]
