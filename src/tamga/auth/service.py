"""Logging in, creating users and keys, and turning credentials into a Principal."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit import service as audit
from tamga.auth import repository
from tamga.auth.domain import Principal, Role, scope_errors
from tamga.auth.security import (
    decode_token,
    dummy_hash,
    hash_api_key,
    hash_password,
    issue_token,
    new_api_key,
    same_hash,
    split_api_key,
    verify_password,
)
from tamga.config import Settings
from tamga.kit import notify
from tamga.kit.clock import utcnow
from tamga.kit.db import engine_of
from tamga.kit.errors import Conflict, FieldError, NotFound, TooManyAttempts, ValidationFailed
from tamga.models import ApiKey, User
from tamga.reference.catalog import load_catalog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginOutcome:
    token: str | None
    principal: Principal | None


def principal_of_user(user: User) -> Principal:
    return Principal(
        subject=f"user:{user.id}",
        name=user.username,
        role=Role(user.role),
        country=user.country,
        office_code=user.office_code,
        operator_id=user.operator_id,
    )


def principal_of_key(key: ApiKey) -> Principal:
    return Principal(
        subject=f"key:{key.prefix}",
        name=key.name,
        role=Role(key.role),
        country=key.country,
        office_code=key.office_code,
        operator_id=key.operator_id,
        seal_id=key.seal_id,
    )


async def login(session: AsyncSession, settings: Settings, username: str, password: str) -> LoginOutcome:
    """Give a token for good credentials; slow down and then lock out repeated failures.

    The caller commits whatever the outcome, so failures are counted even when refused.
    """
    if len(username) > 100 or any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in username):
        raise ValidationFailed([FieldError("body.username", "not a username")])
    now = utcnow()
    row = await repository.throttle(session, username)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        retry = int((row.locked_until - now).total_seconds()) + 1
        raise TooManyAttempts(f"too many failed logins for {username!r}; try again later", retry)
    if row is not None and row.failures >= settings.login_slowdown_after:
        delay = settings.login_slowdown_base_s * 2 ** (row.failures - settings.login_slowdown_after)
        await asyncio.sleep(min(settings.login_slowdown_cap_s, delay))

    user = await repository.user_by_username(session, username)
    digest, active = (user.password_hash, user.active) if user else (dummy_hash(), False)
    principal = principal_of_user(user) if user else None
    # The reads' transaction ends before the hash, which takes about 0.1 s of CPU at the production cost:
    # on SQLite it would hold the one connection (and its write lock) all that time. The hash runs off the
    # event loop (argon2 releases the GIL), which goes on serving meanwhile.
    await session.rollback()
    ok = await asyncio.to_thread(verify_password, digest, password)
    if principal is None or not ok or not active:
        failures = await repository.count_failure(session, username, now)
        if failures >= settings.login_lockout_after:
            await repository.lock_out(
                session, username, now + timedelta(minutes=settings.login_lockout_minutes)
            )
        return LoginOutcome(None, None)
    if row is not None:
        await repository.clear_throttle(session, username)
    token = issue_token(
        principal.subject,
        settings.jwt_secret.get_secret_value(),
        settings.jwt_issuer,
        settings.jwt_ttl_minutes,
        {"role": principal.role.value},
    )
    return LoginOutcome(token, principal)


# principal cache: token or key digest -> (monotonic expiry, principal). Bounded by TTL and size; a
# deactivated user or revoked key stops working at once in the process that did it and, told by `revoked`,
# in the others (`forget_principal`); one that was not told, within `principal_cache_seconds`.
_principals: dict[str, tuple[float, Principal]] = {}
_PRINCIPAL_CACHE_MAX = 50_000


async def principal_from_token(session: AsyncSession, settings: Settings, token: str) -> Principal | None:
    """Give the principal a bearer JWT or API key stands for, or None."""
    ttl = settings.principal_cache_seconds
    cache_key = hash_api_key(token)
    now = time.monotonic()
    if ttl > 0 and (hit := _principals.get(cache_key)) is not None and hit[0] > now:
        return hit[1]
    principal = await _resolve(session, settings, token)
    if ttl > 0 and principal is not None:
        if len(_principals) >= _PRINCIPAL_CACHE_MAX:
            _principals.clear()
        _principals[cache_key] = (now + ttl, principal)
    return principal


def forget_principal(subject: str) -> None:
    """Drop what this process's cache holds for a subject (`user:7`, `key:ab12cd34ef56`): its tokens are
    resolved again, from the database, on their next use."""
    for cache_key in [k for k, (_, p) in _principals.items() if p.subject == subject]:
        _principals.pop(cache_key, None)


# On PostgreSQL every API process listens here (`app.py`) and forgets the subjects it hears.
REVOCATION_CHANNEL: Final = "tamga_principal_revoked"


async def revoked(session: AsyncSession, subject: str) -> None:
    """After a deactivation or revocation is committed: forget the subject here at once, and on
    PostgreSQL in every other process too (NOTIFY; one that does not hear it forgets within
    `principal_cache_seconds`)."""
    forget_principal(subject)
    engine = engine_of(session)
    if engine.dialect.name == "postgresql":
        try:
            await notify.notify(engine, REVOCATION_CHANNEL, [subject])
        except Exception:
            log.exception("could not tell the other processes that %s was revoked", subject)


async def _resolve(session: AsyncSession, settings: Settings, token: str) -> Principal | None:
    if token.startswith("tmg_"):
        prefix = split_api_key(token)
        key = await repository.api_key_by_prefix(session, prefix) if prefix else None
        if key is None or not key.active or not same_hash(key.key_hash, hash_api_key(token)):
            return None
        return principal_of_key(key)
    claims = decode_token(token, settings.jwt_secret.get_secret_value(), settings.jwt_issuer)
    if claims is None or not str(claims["sub"]).startswith("user:"):
        return None
    user = await repository.user_by_id(session, int(str(claims["sub"]).removeprefix("user:")))
    if user is None or not user.active:
        return None
    return principal_of_user(user)


def _check_scope(role: Role, country: str | None, office_code: str | None, operator_id: int | None) -> None:
    errors = scope_errors(role, country, office_code, operator_id)
    if office_code:
        office = load_catalog().office(office_code)
        if office is None:
            errors.append(FieldError("body.office_code", f"no customs office {office_code}"))
        elif country and office.country != country:
            errors.append(FieldError("body.office_code", f"office {office_code} is in {office.country}"))
    if errors:
        raise ValidationFailed(errors)


async def create_user(
    session: AsyncSession,
    actor: Principal | None,
    *,
    username: str,
    password: str,
    role: Role,
    full_name: str = "",
    country: str | None = None,
    office_code: str | None = None,
    operator_id: int | None = None,
) -> User:
    """Give a new user with a hashed password; the scope must fit the role."""
    _check_scope(role, country, office_code, operator_id)
    digest = await asyncio.to_thread(hash_password, password)  # before the transaction: see `login`
    if await repository.user_by_username(session, username) is not None:
        raise Conflict(f"username {username!r} is taken", errors=[FieldError("body.username", "taken")])
    user = User(
        username=username,
        full_name=full_name,
        password_hash=digest,
        role=role.value,
        country=country,
        office_code=office_code,
        operator_id=operator_id,
        created_at=utcnow(),
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ValidationFailed([FieldError("body.operator_id", "no such operator")]) from exc
    audit.record(
        session,
        actor=actor.subject if actor else "system:cli",
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        before=None,
        after={"username": username, "role": role.value, "country": country, "office": office_code},
    )
    return user


async def create_api_key(
    session: AsyncSession,
    actor: Principal | None,
    *,
    name: str,
    role: Role,
    country: str | None = None,
    office_code: str | None = None,
    operator_id: int | None = None,
    seal_id: int | None = None,
) -> tuple[ApiKey, str]:
    """Give a new API key record and the key itself (shown once, kept only as a hash)."""
    _check_scope(role, country, office_code, operator_id)
    key, prefix, digest = new_api_key()
    row = ApiKey(
        prefix=prefix,
        key_hash=digest,
        name=name,
        role=role.value,
        country=country,
        office_code=office_code,
        operator_id=operator_id,
        seal_id=seal_id,
        created_at=utcnow(),
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ValidationFailed([FieldError("body.operator_id", "no such operator")]) from exc
    audit.record(
        session,
        actor=actor.subject if actor else "system:cli",
        action="api_key.create",
        entity_type="api_key",
        entity_id=prefix,
        before=None,
        after={"name": name, "role": role.value, "operator_id": operator_id},
    )
    return row, key


async def user_named(session: AsyncSession, username: str) -> User:
    """Give the user with this username (or refuse: not found)."""
    user = await repository.user_by_username(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


async def set_user_active(
    session: AsyncSession, actor: Principal | None, user_id: int, *, active: bool
) -> User:
    """Deactivate a person's account (its tokens stop working, it cannot log in) or reactivate it;
    `actor` None is the command line (`tamga users deactivate`).

    Setting what is already set changes nothing and records nothing. An administrator cannot deactivate
    their own account over the API (the platform would be left without anyone able to undo it)."""
    user = await repository.user_for_update(session, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    if not active and actor is not None and actor.subject == f"user:{user.id}":
        raise Conflict("an administrator cannot deactivate their own account")
    if user.active != active:
        user.active = active
        audit.record(
            session,
            actor=actor.subject if actor else "system:cli",
            action="user.reactivate" if active else "user.deactivate",
            entity_type="user",
            entity_id=user.id,
            before={"active": not active},
            after={"active": active},
        )
    return user


async def revoke_api_key(session: AsyncSession, actor: Principal, prefix: str) -> ApiKey:
    """Revoke an API key for good (a system or device then needs a new one); revoking again changes nothing."""
    key = await repository.api_key_by_prefix(session, prefix, lock=True) if prefix.isascii() else None
    if key is None:
        raise NotFound(f"no API key {prefix}")
    if key.active:
        key.active = False
        audit.record(
            session,
            actor=actor.subject,
            action="api_key.revoke",
            entity_type="api_key",
            entity_id=key.prefix,
            before={"active": True},
            after={"active": False},
        )
    return key
