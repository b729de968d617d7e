"""`make run`: start Redis (embedded unless REDIS_URL is set), migrate SQL, run the Procfile.

Works with or without a terminal; Ctrl-C or SIGTERM stops every process it started, Redis last.
A Redis that dies is started again from its append-only file.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from hotline.accounts import first_admin
from hotline.embedded_redis import EmbeddedRedis, _die_with_parent
from intake.errors import ConfigError
from intake.settings import from_env
from intake.store.db import migrate

log = logging.getLogger("hotline.run")
ROOT = Path(__file__).resolve().parent.parent


def without_password(url: str) -> str:
    """A store URL as it may be shown: ``postgresql://app:***@db/hotline``."""
    return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s launcher %(message)s")
    try:
        settings = from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedded: EmbeddedRedis | None = None
    env = dict(os.environ)
    env["HOTLINE_DATA"] = str(settings.data_dir.resolve())
    env["DATABASE_URL"] = settings.database_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    if not settings.redis_url:
        embedded = EmbeddedRedis(settings.data_dir)
        embedded.start()
        env["REDIS_URL"] = embedded.url
        log.info("embedded redis-server at %s (append-only file in %s)", embedded.url, embedded.dir)
    redis_url = env["REDIS_URL"]
    migrate(settings.database_url)
    first_password = first_admin(settings)

    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)

    honcho = ROOT / ".venv" / "bin" / "honcho"
    cmd = [
        str(honcho) if honcho.exists() else "honcho",
        "-f",
        str(ROOT / "Procfile"),
        "-d",
        str(ROOT),
        "start",
    ]
    procs = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)  # noqa: S603

    host, port = settings.http.host, settings.http.port
    sms_key = "HOTLINE_SMS_SECRET" if "HOTLINE_SMS_SECRET" in os.environ else settings.data_dir / "sms-secret"
    api_token = "HOTLINE_API_TOKEN" if "HOTLINE_API_TOKEN" in os.environ else settings.data_dir / "api-token"
    if first_password is not None:
        console_login = (
            f"admin / {first_password}  (shown this once; add agents: python -m hotline.accounts add)"
        )
    else:
        console_login = "your account (python -m hotline.accounts add LOGIN creates one)"
    print(
        "\nHotline Gateway is starting:\n"
        f"  chat page     http://{host}:{port}/chat/\n"
        f"  agent console http://{host}:{port}/console/\n"
        f"  health        http://{host}:{port}/healthz\n"
        f"  SMTP          {settings.smtp} (mail to {settings.mailbox})\n"
        f"  API token     in {api_token} (the back office's bearer token; never printed)\n"
        f'  SMS webhooks  signed with the key in {sms_key} (CONTRACT.md "SMS")\n'
        f"  console login {console_login}\n"
        f"  redis         {without_password(redis_url)}\n"
        f"  database      {without_password(settings.database_url)}\n"
        f"  policy        {settings.policy}\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    code = 0
    try:
        while not stopping:
            rc = procs.poll()
            if rc is not None:
                code = rc
                break
            if embedded is not None and not embedded.alive():
                log.warning("redis-server died; starting it again from its append-only file")
                try:
                    embedded.start()
                except RuntimeError as exc:
                    log.error("could not restart redis: %s", exc)
            time.sleep(0.5)
    finally:
        if procs.poll() is None:
            # honcho forwards SIGTERM to every process of the Procfile and waits for them.
            procs.send_signal(signal.SIGTERM)
            try:
                procs.wait(20)
            except subprocess.TimeoutExpired:
                procs.kill()
                procs.wait()
        if embedded is not None:
            embedded.stop()
        log.info("stopped")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
