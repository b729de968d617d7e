"""The back office's principals: handling units' tokens and the console's accounts (issue 18)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from intake.store.schema import accounts, unit_tokens
from intake.store.unit import StoreBase


@dataclass(frozen=True, slots=True)
class AccountRow:
    login: str
    password_hash: str
    role: str
    disabled: bool


class AccountStore(StoreBase):
    """The ``unit_tokens`` and ``accounts`` tables."""

    def add_unit_token(self, unit: str, token_hash: str, by: str) -> None:
        with self._write() as conn:
            conn.execute(
                insert(unit_tokens).values(
                    unit=unit, token_hash=token_hash, created_at=self.clock.now(), created_by=by
                )
            )

    def unit_of_token(self, token_hash: str) -> str | None:
        """The unit a live token belongs to, or None."""
        with self._read() as conn:
            unit: str | None = conn.execute(
                select(unit_tokens.c.unit).where(
                    unit_tokens.c.token_hash == token_hash, unit_tokens.c.revoked_at.is_(None)
                )
            ).scalar_one_or_none()
        return unit

    def add_account(self, login: str, password_hash: str, role: str, by: str) -> bool:
        """False when the login is taken."""
        try:
            with self._write() as conn:
                conn.execute(
                    insert(accounts).values(
                        login=login,
                        password_hash=password_hash,
                        role=role,
                        created_at=self.clock.now(),
                        created_by=by,
                    )
                )
        except IntegrityError:
            return False
        return True

    def account(self, login: str) -> AccountRow | None:
        with self._read() as conn:
            r = conn.execute(select(accounts).where(accounts.c.login == login)).one_or_none()
        if r is None:
            return None
        return AccountRow(r.login, r.password_hash, r.role, r.disabled_at is not None)

    def count_accounts(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(accounts)).scalar_one())
