"""Signed checkpoints of the audit chain (NIST AU-9(3); reliability reference test 19).

The node's Ed25519 key is created at `init` in `HOME/keys/audit-ed25519.pem` (mode
0600).  A checkpoint signs (node id, sequence number, entry hash, time); handed to a
partner or a third party with the public key, it lets them prove later that the chain
still holds that entry — so truncating the tail back past a checkpoint is detected.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from liaison.errors import BadRequest, ConfigError

KEY_FILE = Path("keys") / "audit-ed25519.pem"
FORMAT = "liaison-audit-checkpoint/1"


def create_key(home: Path) -> Path:
    """Create the node's signing key with owner-only permissions."""
    path = home / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return path


def load_key(home: Path) -> Ed25519PrivateKey:
    path = home / KEY_FILE
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ConfigError(f"no audit signing key at {path} — was the node created with "
                          "'liaison init'?") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key")
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return "ed25519:" + base64.b64encode(raw).decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip().removeprefix("ed25519:"), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise BadRequest("not a Liaison audit public key (expected 'ed25519:BASE64')") from None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    node_id: str
    seq: int
    hash: str
    at: int
    signature: str
    public_key: str

    def payload(self) -> bytes:
        return _payload(self.node_id, self.seq, self.hash, self.at)

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "node_id": self.node_id, "seq": self.seq, "hash": self.hash,
                "at": self.at, "public_key": self.public_key, "signature": self.signature}


def _payload(node_id: str, seq: int, hash_: str, at: int) -> bytes:
    return orjson.dumps({"format": FORMAT, "node_id": node_id, "seq": seq, "hash": hash_,
                         "at": at}, option=orjson.OPT_SORT_KEYS)


def sign(key: Ed25519PrivateKey, node_id: str, seq: int, hash_: str, at: int) -> Checkpoint:
    sig = key.sign(_payload(node_id, seq, hash_, at))
    return Checkpoint(node_id, seq, hash_, at, base64.b64encode(sig).decode(),
                      public_key_text(key))


def load_checkpoint(data: bytes, trusted_key: str | None = None) -> Checkpoint:
    """Parse and verify a checkpoint document; 400 if it is malformed or forged.

    The signature is checked against `trusted_key` when given (a key obtained out of
    band, e.g. from 'liaison audit pubkey'), else against the key the document names.
    """
    try:
        doc = orjson.loads(data)
        cp = Checkpoint(str(doc["node_id"]), int(doc["seq"]), str(doc["hash"]), int(doc["at"]),
                        str(doc["signature"]), str(doc["public_key"]))
        if doc.get("format") != FORMAT:
            raise ValueError("unknown format")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise BadRequest("not a Liaison audit checkpoint document") from None
    key = parse_public_key(trusted_key or cp.public_key)
    try:
        key.verify(base64.b64decode(cp.signature), cp.payload())
    except (InvalidSignature, ValueError):
        raise BadRequest(f"checkpoint at entry {cp.seq}: the signature does not verify — "
                         "the document was modified or signed by another key") from None
    return cp
