"""Ed25519 signatures of the exchange between the two tax authorities' nodes. No I/O beyond reading keys.

Mutual authentication is done at the application level rather than with mTLS, so that it holds through
proxies and TLS terminators and is recorded with each register:
- every message (a confirmation or a withdrawal) is signed by the authority that decided it;
- every request is signed by the sending node over its method, path, timestamp, node and body digest
  (`X-Tamga-Node`, `X-Tamga-Timestamp`, `Content-Digest`, `X-Tamga-Signature`), and the receiver refuses
  an unknown node, a timestamp outside the allowed skew, or a signature that does not verify;
- the acknowledgement is signed by the receiver over its status, timestamp, node and body digest, and
  the sender counts a register delivered only when that signature verifies with the peer's key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tamga.taxation.domain import canonical_json

NODE_HEADER = "X-Tamga-Node"
TIMESTAMP_HEADER = "X-Tamga-Timestamp"
SIGNATURE_HEADER = "X-Tamga-Signature"
DIGEST_HEADER = "Content-Digest"


class BadKey(ValueError):
    """A key that cannot be read (missing file, not PEM, not Ed25519)."""


def generate_private_key_pem() -> bytes:
    """Give a new Ed25519 private key as unencrypted PKCS#8 PEM."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(private_pem: bytes) -> str:
    """Give the SubjectPublicKeyInfo PEM of a private key's public half."""
    key = private_key_from_pem(private_pem)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise BadKey(f"not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey("the node's key must be Ed25519")
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Give the node's private key from its PEM file."""
    try:
        return private_key_from_pem(path.read_bytes())
    except OSError as exc:
        raise BadKey(f"cannot read {path}: {exc}") from exc


def load_public_key(text_or_path: str) -> Ed25519PublicKey:
    """Give a public key from PEM text, or from the PEM file a path names."""
    text = text_or_path.strip()
    if not text.startswith("-----BEGIN"):
        try:
            text = Path(text).read_text()
        except OSError as exc:
            raise BadKey(f"neither PEM text nor a readable file: {exc}") from exc
    try:
        key = serialization.load_pem_public_key(text.encode())
    except ValueError as exc:
        raise BadKey(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey("the peer's key must be Ed25519")
    return key


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    """Give the signature of data, base64url without padding."""
    return base64.urlsafe_b64encode(key.sign(data)).decode().rstrip("=")


def verify(key: Ed25519PublicKey, data: bytes, signature: str) -> bool:
    """Tell whether the signature (base64url) is the key's over data."""
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        key.verify(raw, data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def body_digest(body: bytes) -> str:
    """Give the RFC 9530 Content-Digest value of a body (SHA-256)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def message_bytes(sender: str, message_id: str, kind: str, payload: dict[str, Any]) -> bytes:
    """Give what a message's signature covers: who sent it, its id and kind, and its canonical payload."""
    head = f"tamga-tax-message\n{sender}\n{message_id}\n{kind}\n".encode()
    return head + canonical_json(payload)


def request_bytes(method: str, path: str, timestamp: str, node: str, body: bytes) -> bytes:
    """Give what a request's signature covers."""
    return f"tamga-tax-request\n{method.upper()}\n{path}\n{timestamp}\n{node}\n{body_digest(body)}".encode()


def ack_bytes(status: int, timestamp: str, node: str, body: bytes) -> bytes:
    """Give what an acknowledgement's signature covers."""
    return f"tamga-tax-ack\n{status}\n{timestamp}\n{node}\n{body_digest(body)}".encode()
