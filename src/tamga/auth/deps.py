"""FastAPI dependencies: the calling principal, and role guards."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from tamga.auth.domain import Principal, Role
from tamga.auth.security import decode_token
from tamga.auth.service import principal_from_token
from tamga.config import Settings
from tamga.kit.errors import Forbidden, Unauthorized
from tamga.kit.http import SessionDep, SettingsDep

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def current_principal(
    session: SessionDep, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """Give who is calling (JWT or API key as a bearer token), or refuse with 401."""
    if not token:
        raise Unauthorized("a bearer token (JWT or API key) is required")
    principal = await principal_from_token(session, settings, token)
    if principal is None:
        raise Unauthorized("the token is invalid, expired or revoked")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """Give a dependency that lets through only the given roles (administrators always)."""
    allowed = frozenset(roles) | {Role.ADMINISTRATOR}

    async def guard(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"a {principal.role.value} may not do this; allowed: {names}")
        return principal

    return guard


def idempotency_identity(settings: Settings) -> Callable[[str], Coroutine[Any, Any, str | None]]:
    """Give the function that names the caller of a request for idempotency, without a database trip."""

    async def identify(authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        if token.startswith("tmg_"):
            return "key:" + hashlib.sha256(token.encode()).hexdigest()[:40]
        claims = decode_token(token, settings.jwt_secret.get_secret_value(), settings.jwt_issuer)
        return str(claims["sub"]) if claims else None

    return identify
