"""The node's identity for the exchange, and the outbox: signed messages written in the decision's commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.config import Settings
from tamga.kit.clock import utcnow
from tamga.kit.errors import TamgaError
from tamga.models.taxation import TaxOutboxMessage
from tamga.taxation.domain import other_state
from tamga.taxation.signing import BadKey, load_private_key, load_public_key, message_bytes, sign


class ExchangeNotConfigured(TamgaError):
    """This node cannot sign or receive registers: TAMGA_TAX_NODE or its key is not set (or unreadable)."""

    status = 409
    title = "Exchange not configured"
    type_slug = "tax-exchange-not-configured"


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """This tax authority's node: its state and key, and what it knows of its peer."""

    node: str
    private_key: Ed25519PrivateKey
    peer: str
    peer_public_key: Ed25519PublicKey | None
    peer_url: str | None


@cache
def _identity(node: str, key_path: Path, peer_key: str | None, peer_url: str | None) -> NodeIdentity:
    private = load_private_key(key_path)
    public = load_public_key(peer_key) if peer_key else None
    return NodeIdentity(node, private, other_state(node), public, peer_url.rstrip("/") if peer_url else None)


def node_identity(settings: Settings) -> NodeIdentity:
    """Give this node's identity from the settings, or refuse (503) when the exchange is not configured."""
    if settings.tax_node is None or settings.tax_private_key_path is None:
        raise ExchangeNotConfigured("this node has no TAMGA_TAX_NODE and TAMGA_TAX_PRIVATE_KEY_PATH")
    try:
        return _identity(
            settings.tax_node,
            settings.tax_private_key_path,
            settings.tax_peer_public_key,
            settings.tax_peer_url,
        )
    except BadKey as exc:
        raise ExchangeNotConfigured(f"the exchange keys cannot be read: {exc}") from exc


def enqueue(
    session: AsyncSession, settings: Settings, kind: str, payload: dict[str, Any]
) -> TaxOutboxMessage:
    """Give a new signed message for the peer, added to this unit of work (sent after the commit)."""
    me = node_identity(settings)
    message_id = str(uuid.uuid4())
    message = TaxOutboxMessage(
        message_id=message_id,
        kind=kind,
        application_number=str(payload["application_number"]),
        version=int(payload["version"]),
        payload=payload,
        signature=sign(me.private_key, message_bytes(me.node, message_id, kind, payload)),
        created_at=utcnow(),
    )
    session.add(message)
    return message
