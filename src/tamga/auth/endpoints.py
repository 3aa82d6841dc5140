"""/auth: login for a JWT, who am I; /users and /api-keys for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status
from fastapi.security import OAuth2PasswordRequestForm

from tamga.auth import schemas, service
from tamga.auth.deps import CurrentPrincipal, require_roles
from tamga.auth.domain import Principal, Role
from tamga.kit.db import commit
from tamga.kit.errors import Unauthorized
from tamga.kit.http import SessionDep, SettingsDep

router = APIRouter(tags=["auth"])
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMINISTRATOR))]
UserId = Annotated[int, Path(ge=1, le=2**62)]
KeyPrefix = Annotated[str, Path(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_]+$")]


@router.post("/auth/token", response_model=schemas.Token)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> schemas.Token:
    """Exchange a username and password for a bearer JWT (OAuth2 password flow)."""
    outcome = await service.login(session, settings, form.username, form.password)
    await commit(session)
    if outcome.token is None:
        raise Unauthorized("wrong username or password")
    return schemas.Token(access_token=outcome.token, expires_in=settings.jwt_ttl_minutes * 60)


@router.get("/auth/me", response_model=schemas.Me)
async def me(principal: CurrentPrincipal) -> schemas.Me:
    """Give the caller's identity, role and scope."""
    return schemas.Me(
        subject=principal.subject,
        name=principal.name,
        role=principal.role,
        country=principal.country,
        office_code=principal.office_code,
        operator_id=principal.operator_id,
    )


@router.post("/users", response_model=schemas.User, status_code=status.HTTP_201_CREATED)
async def create_user(body: schemas.UserCreate, session: SessionDep, admin: AdminDep) -> schemas.User:
    """Create a person's account with a role and its scope."""
    user = await service.create_user(session, admin, **body.model_dump())
    await commit(session)
    return schemas.User.model_validate(user)


@router.post("/api-keys", response_model=schemas.ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: schemas.ApiKeyCreate, session: SessionDep, admin: AdminDep
) -> schemas.ApiKeyCreated:
    """Create an API key for a system; the key is returned once."""
    row, key = await service.create_api_key(session, admin, **body.model_dump())
    await commit(session)
    return schemas.ApiKeyCreated(prefix=row.prefix, name=row.name, role=Role(row.role), key=key)


@router.post("/users/{user_id}/deactivate", response_model=schemas.User)
async def deactivate_user(user_id: UserId, session: SessionDep, admin: AdminDep) -> schemas.User:
    """Deactivate a person's account: its tokens stop working and it cannot log in (audited)."""
    user = await service.set_user_active(session, admin, user_id, active=False)
    await commit(session)
    await service.revoked(session, f"user:{user.id}")
    return schemas.User.model_validate(user)


@router.post("/users/{user_id}/reactivate", response_model=schemas.User)
async def reactivate_user(user_id: UserId, session: SessionDep, admin: AdminDep) -> schemas.User:
    """Reactivate a deactivated account (audited)."""
    user = await service.set_user_active(session, admin, user_id, active=True)
    await commit(session)
    return schemas.User.model_validate(user)


@router.post("/api-keys/{prefix}/revoke", response_model=schemas.ApiKey)
async def revoke_api_key(prefix: KeyPrefix, session: SessionDep, admin: AdminDep) -> schemas.ApiKey:
    """Revoke an API key for good: the system or device using it is refused from now on (audited)."""
    key = await service.revoke_api_key(session, admin, prefix)
    await commit(session)
    await service.revoked(session, f"key:{key.prefix}")
    return schemas.ApiKey.model_validate(key)
