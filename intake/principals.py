"""Who acts on the back office (issue 18, CONTRACT.md "Back office", "Agents and the console API").

- **The hotline centre**: ``HOTLINE_API_TOKEN``, which sees every ticket and never opens the
  console.
- **A handling unit**: its own tokens (created by the centre), which see and act on the unit's
  tickets only. A unit may reveal the contact of a citizen who hid nothing, once per ticket, to
  call them back (the regulations have the unit contact the citizen); never an anonymous one.
- **An account** of the console: an agent, a supervisor or an admin, with a password hashed by
  Argon2id (argon2-cffi's defaults, RFC 9106's second recommended option); there is no default
  password and the API token is none.

Tokens are 256 random bits, kept as their SHA-256: a fast hash is right for a random secret
(nothing to guess), a KDF for one people choose.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from intake.errors import Conflict, Forbidden, InvalidInput, NotFound
from intake.model import Field, StoredTicket
from intake.store.sql import SqlStore

__all__ = ["Account", "Principals", "Role", "UnitToken"]

LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,39}")  # no dot: the session cookie is dot-separated
UNIT_NAME_MAX = 200
MIN_PASSWORD = 10
CONTACT_REVEALED = "contact_revealed"
UNKNOWN_LOGIN = "(unknown login)"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Account:
    login: str
    role: Role


@dataclass(frozen=True, slots=True)
class UnitToken:
    unit: str
    token: str  # shown once, at creation; only its hash is kept


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Principals:
    """Accounts, units' tokens and what a unit may see, over the store."""

    def __init__(self, store: SqlStore, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.hasher = hasher or PasswordHasher()

    @functools.cached_property
    def _decoy(self) -> str:
        """Verified against when the login does not exist, so that a wrong login costs the same
        time as a wrong password (no list of logins by timing)."""
        return self.hasher.hash(secrets.token_urlsafe(16))

    # -- accounts -------------------------------------------------------------------------------
    def create_account(self, login: str, password: str, role: str, by: str) -> Account:
        if not isinstance(login, str) or not LOGIN.fullmatch(login):
            raise InvalidInput("登录名为 2–40 位字母、数字、_ 或 -。'login': 2–40 letters, digits, _ or -")
        if not isinstance(role, str) or role not in {r.value for r in Role}:
            raise InvalidInput(
                "role 应为 agent、supervisor 或 admin。'role' must be agent, supervisor or admin."
            )
        if not isinstance(password, str) or len(password) < MIN_PASSWORD or password.lower() == login.lower():
            raise InvalidInput(
                f"密码至少 {MIN_PASSWORD} 位，且不能与登录名相同。"
                f"'password' needs at least {MIN_PASSWORD} characters and must not be the login."
            )
        if len(password) > 1024:
            raise InvalidInput("密码过长。'password' is longer than 1024 characters.")
        if not self.store.add_account(login, self.hasher.hash(password), role, by):
            raise Conflict(f"登录名 {login} 已存在。The login {login!r} is taken.")
        self.store.audit(by, "account_created", login, role)
        return Account(login, Role(role))

    def verify(self, login: str, password: str) -> tuple[Account | None, str]:
        """(the account, if ``password`` is its own and it is not disabled; the login as the audit
        log may name it: the login if it is an account's, else "(unknown login)", so that a
        password typed into the login field is never kept), in about the same time either way."""
        row = self.store.account(login) if LOGIN.fullmatch(login) else None
        named = row.login if row is not None else UNKNOWN_LOGIN
        try:
            self.hasher.verify(row.password_hash if row is not None else self._decoy, password)
        except (VerificationError, InvalidHashError):
            return None, named
        if row is None or row.disabled:
            return None, named
        return Account(row.login, Role(row.role)), named

    def has_accounts(self) -> bool:
        return self.store.count_accounts() > 0

    # -- units ----------------------------------------------------------------------------------
    def new_unit_token(self, unit: str, by: str) -> UnitToken:
        unit = unit.strip()
        if not unit or len(unit) > UNIT_NAME_MAX or not unit.isprintable():
            raise InvalidInput("单位名称无效。The unit name is empty, too long or not printable.")
        token = secrets.token_urlsafe(32)
        self.store.add_unit_token(unit, token_hash(token), by)
        self.store.audit(by, "unit_token_created", unit[:80])
        return UnitToken(unit, token)

    def unit_of(self, token: str) -> str | None:
        return self.store.unit_of_token(token_hash(token)) if token else None

    @staticmethod
    def sees(unit: str | None, ticket: StoredTicket) -> bool:
        """Whether a principal (a unit's name; None for the centre) may see ``ticket``."""
        return unit is None or ticket.unit == unit

    def reveal_contact(self, unit: str, number: str) -> dict[str, str | None]:
        """The name and phone of the citizen of one of ``unit``'s tickets, so the unit can call
        them back: once per ticket, audited; 403 for an anonymous citizen or one who hid an item."""
        ticket = self.store.find_ticket(number)
        if ticket.unit != unit:
            raise NotFound("未找到该工单。No such ticket.")
        if ticket.anonymous or ticket.hidden:
            raise Forbidden("市民选择匿名或隐藏了联系方式，不能提供。The citizen asked not to be identified.")
        name = ticket.contact.get(Field.NAME) or ticket.fields.get(Field.NAME)
        phone = ticket.contact.get(Field.PHONE) or ticket.fields.get(Field.PHONE)
        if phone is None and ticket.address.channel.carries_phone:
            phone = ticket.address.value
        actor = f"unit:{unit}"[:80]
        with self.store.tx():  # the event's key makes it once, also for two requests at a time
            if not self.store.add_event(
                ticket.id, CONTACT_REVEALED, actor, {}, key=f"{CONTACT_REVEALED}:{ticket.id}"
            ):
                raise Conflict(
                    "该工单的联系方式已提供过一次。The contact of this ticket was revealed once already."
                )
            self.store.audit(actor, CONTACT_REVEALED, number)
        return {"name": name, "phone": phone}
