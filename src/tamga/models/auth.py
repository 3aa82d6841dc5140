"""People, system and device keys, and the login throttle."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tamga.kit.db import Base, BigId


class User(Base):
    """A person who logs in with a password; the role and its scope (state, office, operator)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    country: Mapped[str | None] = mapped_column(String(2))
    office_code: Mapped[str | None] = mapped_column(String(10))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]


class ApiKey(Base):
    """A key for a system or a device; only its SHA-256 is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    country: Mapped[str | None] = mapped_column(String(2))
    office_code: Mapped[str | None] = mapped_column(String(10))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    seal_id: Mapped[int | None] = mapped_column(ForeignKey("seals.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]


class LoginThrottle(Base):
    """Failed logins per username (known or not), for slowing down and locking out."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None]
    locked_until: Mapped[dt.datetime | None]
