"""Password hashing (argon2), JWTs for people, API keys for systems and devices."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tamga.kit.clock import utcnow

_hasher = PasswordHasher()  # argon2id with the RFC 9106 second recommended parameters
API_KEY_PREFIX = "tmg"


def configure_password_hashing(time_cost: int, memory_kib: int) -> None:
    """Set the argon2id cost for new hashes (existing hashes carry their own parameters)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    _dummy_hash = None


def hash_password(password: str) -> str:
    """Give the argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Tell whether the password matches the hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_dummy_hash: str | None = None


def dummy_hash() -> str:
    """Give a hash to verify against when the username is unknown, so both paths cost the same."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


def issue_token(subject: str, secret: str, issuer: str, ttl_minutes: int, claims: dict[str, Any]) -> str:
    """Give a signed HS256 JWT for the subject."""
    now = utcnow()
    payload = {
        "sub": subject,
        "iss": issuer,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=ttl_minutes)).timestamp()),
        **claims,
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def decode_token(token: str, secret: str, issuer: str) -> dict[str, Any] | None:
    """Give the verified claims of a JWT, or None if it is invalid or expired."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=["HS256"], issuer=issuer, options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError:
        return None
    return claims


def new_api_key() -> tuple[str, str, str]:
    """Give a fresh key as (full key to show once, its lookup prefix, its SHA-256)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = f"{API_KEY_PREFIX}_{prefix}_{secret}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    """Give the SHA-256 of an API key (keys are random and long: no slow hash is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def split_api_key(key: str) -> str | None:
    """Give the lookup prefix of a well-formed key, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
