"""Console accounts from the command line (CONTRACT.md "Agents and the console API").

    python -m hotline.accounts add LOGIN [--role agent|supervisor|admin] [--generate]

The password is read from the terminal (asked twice), or with ``--generate`` made up and printed
once; only its Argon2id hash is stored. ``make run`` calls :func:`first_admin` so that a new
installation has one way in, printed once, and never a default password.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from intake.clock import SystemClock
from intake.crypto import Cipher
from intake.errors import HotlineError
from intake.principals import Principals, Role
from intake.settings import Settings, from_env
from intake.store.db import make_engine
from intake.store.sql import SqlStore

FIRST_ADMIN = "admin"


def _principals(settings: Settings) -> tuple[Principals, SqlStore]:
    store = SqlStore(make_engine(settings.database_url), Cipher(settings.secret_key), SystemClock())
    return Principals(store), store


def first_admin(settings: Settings) -> str | None:
    """On a database without accounts, create ``admin`` with a new password and return it (to be
    shown once); None when accounts exist."""
    principals, store = _principals(settings)
    try:
        if principals.has_accounts():
            return None
        password = secrets.token_urlsafe(12)
        principals.create_account(FIRST_ADMIN, password, Role.ADMIN.value, "make run (first start)")
        return password
    finally:
        store.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="create an account")
    add.add_argument("login")
    add.add_argument("--role", default=Role.AGENT.value, choices=[r.value for r in Role])
    add.add_argument("--generate", action="store_true", help="make up a password and print it once")
    args = ap.parse_args(argv)
    settings = from_env()
    if args.generate:
        password = secrets.token_urlsafe(12)
    else:
        password = getpass.getpass(f"password for {args.login}: ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ; nothing created", file=sys.stderr)
            return 1
    principals, store = _principals(settings)
    try:
        account = principals.create_account(args.login, password, args.role, "command line")
    except HotlineError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    finally:
        store.engine.dispose()
    print(
        f"created {account.login} ({account.role.value})"
        + (f", password {password}" if args.generate else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
