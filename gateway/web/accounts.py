"""Sign-in accounts: agents, supervisors and admins, with argon2 password hashes.

A service over the CRM database's `accounts` table (SQLAlchemy's sync engine; every call runs
in a worker thread, argon2 included, so the loop never waits on a hash or a query).
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.web.models import Account as AccountRow

ROLES = ("agent", "supervisor", "admin")
LOCALES = ("tr", "en")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
_USERNAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class AccountError(ValueError):
    """Bad account data, or no such account."""


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: str
    agent_id: str | None
    teams: tuple[str, ...]
    locale: str
    disabled: bool


class SignInFailed(Exception):
    """Wrong username or password (the two are not told apart)."""


class AccountDisabled(Exception):
    """The password was right, but the account is disabled."""


def check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(f"a password has {MIN_PASSWORD_LENGTH}-{MAX_PASSWORD_LENGTH} characters")


def _account(row: AccountRow) -> Account:
    return Account(row.username, row.display_name, row.role, row.agent_id, tuple(row.teams or ()),
                   row.locale, bool(row.disabled))


class AccountStore:
    def __init__(self, engine: Engine, hasher: PasswordHasher | None = None):
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        # Unknown usernames are verified against this, so they take as long as known ones.
        self._dummy_hash = self.hasher.hash("not a password of anyone")

    # -- administration (ctigw users) ------------------------------------------------------

    def add(self, username: str, password: str, *, role: str, display_name: str = "",
            agent_id: str | None = None, teams: tuple[str, ...] = (), locale: str = "tr") -> Account:
        if not isinstance(username, str) or not _USERNAME.fullmatch(username):
            raise AccountError("a username is 1-64 lowercase letters, digits, '_', '.' or '-'")
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if locale not in LOCALES:
            raise AccountError(f"locale must be one of {', '.join(LOCALES)}")
        if role == "agent" and not (agent_id and _ID.fullmatch(agent_id)):
            raise AccountError("an agent's account names their agent id (--agent-id 1001)")
        if role != "agent" and agent_id:
            raise AccountError("only an agent's account has an agent id")
        if role == "supervisor" and not teams:
            raise AccountError("a supervisor's account names their teams (--teams billing,support)")
        if any(not _ID.fullmatch(t) for t in teams):
            raise AccountError("a team id is 1-64 letters, digits, '_', '.' or '-'")
        check_password(password)
        row = AccountRow(username=username, display_name=(display_name or username).strip()[:200], role=role,
                         agent_id=agent_id, teams=list(teams), locale=locale,
                         password_hash=self.hasher.hash(password), disabled=False)
        with Session(self.engine) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                raise AccountError(f"there is already an account {username!r}") from None
            return _account(row)

    def set_password(self, username: str, password: str) -> None:
        check_password(password)
        with Session(self.engine) as session:
            row = self._row(session, username)
            row.password_hash = self.hasher.hash(password)
            session.commit()

    def set_locale(self, username: str, locale: str) -> None:
        if locale not in LOCALES:
            raise AccountError(f"locale must be one of {', '.join(LOCALES)}")
        with Session(self.engine) as session:
            self._row(session, username).locale = locale
            session.commit()

    def set_disabled(self, username: str, disabled: bool = True) -> None:
        with Session(self.engine) as session:
            self._row(session, username).disabled = disabled
            session.commit()

    def list(self) -> list[Account]:
        with Session(self.engine) as session:
            return [_account(r) for r in session.scalars(select(AccountRow).order_by(AccountRow.username))]

    def get(self, username: str) -> Account | None:
        with Session(self.engine) as session:
            row = session.scalar(select(AccountRow).where(AccountRow.username == username))
            return _account(row) if row is not None else None

    def _row(self, session: Session, username: str) -> AccountRow:
        row = session.scalar(select(AccountRow).where(AccountRow.username == username))
        if row is None:
            raise AccountError(f"no account {username!r}")
        return row

    # -- signing in ------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> Account:
        """The account, if the password is right and the account enabled; else SignInFailed
        (or AccountDisabled, told only to someone who knows the password)."""
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            raise SignInFailed()
        with Session(self.engine) as session:
            row = session.scalar(select(AccountRow).where(AccountRow.username == username))
            try:
                self.hasher.verify(row.password_hash if row is not None else self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                raise SignInFailed() from None
            if row is None:
                raise SignInFailed()
            if row.disabled:
                raise AccountDisabled()
            if self.hasher.check_needs_rehash(row.password_hash):
                row.password_hash = self.hasher.hash(password)
                session.commit()
            return _account(row)

    async def authenticate_async(self, username: str, password: str) -> Account:
        return await asyncio.to_thread(self.authenticate, username, password)

    async def get_async(self, username: str) -> Account | None:
        return await asyncio.to_thread(self.get, username)
