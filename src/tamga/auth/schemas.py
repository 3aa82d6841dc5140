"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from tamga.auth.domain import Role
from tamga.kit.schemas import Text


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int


class Me(BaseModel):
    subject: str
    name: str
    role: Role
    country: str | None
    office_code: str | None
    operator_id: int | None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=10, max_length=200)
    full_name: Text = Field(default="", max_length=200)
    role: Role
    country: str | None = Field(default=None, pattern=r"^(RU|BY)$")
    office_code: str | None = Field(default=None, max_length=10)
    operator_id: int | None = Field(default=None, ge=1, le=2**62)


class User(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str
    role: Role
    country: str | None
    office_code: str | None
    operator_id: int | None
    active: bool
    created_at: dt.datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    role: Role
    country: str | None = Field(default=None, pattern=r"^(RU|BY)$")
    office_code: str | None = Field(default=None, max_length=10)
    operator_id: int | None = Field(default=None, ge=1, le=2**62)


class ApiKey(BaseModel):
    """An API key as an administrator sees it (never the key itself)."""

    model_config = ConfigDict(from_attributes=True)

    prefix: str
    name: str
    role: Role
    country: str | None
    office_code: str | None
    operator_id: int | None
    seal_id: int | None
    active: bool
    created_at: dt.datetime


class ApiKeyCreated(BaseModel):
    prefix: str
    name: str
    role: Role
    key: str = Field(description="The key itself; shown once, kept only as a hash")
