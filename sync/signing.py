"""Signing sync requests with a node's secret, and the tokens that carry it. Standard library only.

A token is ``<node_id>.<secret>``. The hub does not store secrets: it derives each from its own
secret key, the node id and a generation number (raised to revoke a token), so a copy of the
hub's database alone signs nothing. Every request carries, in one header,
``Authorization: Sync <node id>:<time ms>:<nonce>:<signature>``, the signature an HMAC-SHA256
over method, path, time, nonce and the SHA-256 of the body as transmitted, so a link without TLS
can neither forge nor replay a request (DESIGN property 8). One short header: every byte of a
request crosses slow links. Bundle files (sync/bundle.py) are signed with the same secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "Sync"
WINDOW_MS = 5 * 60 * 1000  # a signed request is valid this long either side of the hub's time


def derive_secret(hub_key: str, node_id: str, generation: int) -> bytes:
    return hmac.new(hub_key.encode(), f"sync-node:{node_id}:{generation}".encode(),
                    hashlib.sha256).digest()


def make_token(node_id: str, secret: bytes) -> str:
    return f"{node_id}.{base64.urlsafe_b64encode(secret).decode().rstrip('=')}"


def parse_token(token: str) -> tuple[str, bytes]:
    """(node id, secret) of a token; ValueError if it is not one."""
    node_id, _, encoded = token.strip().partition(".")
    if not node_id or len(node_id) > 64 or not encoded:
        raise ValueError("not a sync token")
    try:
        secret = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (ValueError, TypeError):
        raise ValueError("not a sync token") from None
    if len(secret) != 32:
        raise ValueError("not a sync token")
    return node_id, secret


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def signature(secret: bytes, method: str, path: str, time_ms: int, nonce: str,
              body: bytes) -> str:
    message = "\n".join([method.upper(), path, str(time_ms), nonce,
                         hashlib.sha256(body).hexdigest()]).encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest())


def authorization(node_id: str, secret: bytes, method: str, path: str, time_ms: int,
                  body: bytes) -> str:
    """The Authorization header of one request (a fresh nonce each time: a resend signs anew)."""
    nonce = _b64(secrets.token_bytes(16))
    sig = signature(secret, method, path, time_ms, nonce, body)
    return f"{SCHEME} {node_id}:{time_ms}:{nonce}:{sig}"


def parse_authorization(value: str | None) -> tuple[str, int, str, str] | None:
    """(node id, time, nonce, signature) of an Authorization header, or None."""
    scheme, _, rest = (value or "").partition(" ")
    parts = rest.split(":")
    if scheme != SCHEME or len(parts) != 4:
        return None
    node_id, time_text, nonce, sig = parts
    if not (node_id and len(node_id) <= 64 and time_text.isascii() and time_text.isdigit()
            and len(time_text) < 16
            and 16 <= len(nonce) <= 64 and sig):
        return None
    return node_id, int(time_text), nonce, sig


def node_credentials(db, hub_key: str, node_id: str) -> tuple[bytes, bool] | None:
    """At the hub: a registered centre's secret and whether it was revoked; None if unknown.
    (``db`` is the hub's database: the registry is ``_sync_nodes``.)"""
    row = db.execute("SELECT generation, revoked_at FROM _sync_nodes WHERE node_id = ?",
                     [node_id]).fetchone()
    return None if row is None else (derive_secret(hub_key, node_id, row[0]), row[1] is not None)


def bundle_mac(secret: bytes):
    """A running HMAC-SHA256 over a bundle file (sync/bundle.py), keyed with the node's secret.

    It starts with its own label, so a bundle's signature can never stand for a request's.
    """
    return hmac.new(secret, b"infocentre bundle\n", hashlib.sha256)


def verify(secret: bytes, method: str, path: str, time_ms: int, nonce: str, body: bytes,
           given: str) -> bool:
    return hmac.compare_digest(signature(secret, method, path, time_ms, nonce, body).encode(),
                               given.encode())
