"""Signed checkpoints: what the chain alone cannot prove (reference test 19, AU-9(3)).

A checkpoint (`liaison audit checkpoint`) signs the node id and the head entry with the
node's Ed25519 key; a third party holding it and the public key (`liaison audit pubkey`)
can later prove the chain still holds that entry.  Shown here: the node's own key and
`--pubkey` accept it; another node's key, or any changed field, rejects it (exit 2);
a checkpoint of another node is refused (exit 1); a tail truncated back past the
checkpoint, even with `audit_head` rewritten to match the shortened chain, and a history
rewritten with every later hash recomputed, are both caught (exit 1) — while the chain
alone, by design, cannot see them.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from liaison.audit.chain import AuditDraft, chain
from liaison.audit.checkpoint import KEY_FILE
from liaison.audit.service import Audit
from liaison.errors import BadRequest
from liaison.node import init_node
from tests.audit.helpers import cli, entries, head, indicator, post, sql
from tests.conftest import NodeFixture


def _busy(fx: NodeFixture, n: int, tag: str) -> None:
    """Add `n` entries (posts by the admin)."""
    cid = fx.node.store.collection("main")
    ref = cid.id if cid else fx.add_collection("Main", "main")
    for i in range(n):
        assert post(fx, ref, [indicator(f"{tag}-{i}")]).status_code == 202


def _checkpoint(fx: NodeFixture, path: Path) -> dict[str, Any]:
    result = cli("audit", "checkpoint", "--out", str(path), home=fx.home)
    assert result.code == 0 and "Signed entry" in result.err, result
    return json.loads(path.read_text())


def _verify(fx: NodeFixture, *files: Path, pubkey: str | None = None) -> tuple[int, str]:
    args = [a for f in files for a in ("--checkpoint", str(f))]
    result = cli("audit", "verify", *args, *(["--pubkey", pubkey] if pubkey else []),
                 home=fx.home)
    return result.code, result.out + result.err


@pytest.fixture
def other(tmp_path: Path) -> Path:
    """A second node (its own key and node id)."""
    home = tmp_path / "other"
    init_node(home, "Other Org")
    return home


def test_a_checkpoint_verifies_with_the_nodes_own_key(node_fx: NodeFixture,
                                                      tmp_path: Path) -> None:
    _busy(node_fx, 3, "a")
    cp = _checkpoint(node_fx, tmp_path / "cp1.json")
    assert cp["seq"] == head(node_fx.node.store)
    assert cp["node_id"] == node_fx.node.store.get_meta("node_id")
    key = cli("audit", "pubkey", home=node_fx.home).out.strip()
    assert key == cp["public_key"] and key.startswith("ed25519:")
    _busy(node_fx, 2, "b")
    cp2 = _checkpoint(node_fx, tmp_path / "cp2.json")
    assert cp2["seq"] == cp["seq"] + 2
    code, text = _verify(node_fx, tmp_path / "cp1.json", tmp_path / "cp2.json", pubkey=key)
    assert code == 0 and text.count("matches the checkpoint") == 2, text
    doc = cli("audit", "verify", "--checkpoint", str(tmp_path / "cp1.json"), "--json",
              home=node_fx.home).json()
    assert doc["ok"] and doc["head_seq"] == cp2["seq"] and len(doc["checkpoints"]) == 1
    # the key file is private to the node's owner
    assert (node_fx.home / KEY_FILE).stat().st_mode & 0o077 == 0


def test_another_nodes_key_rejects_our_checkpoint(node_fx: NodeFixture, other: Path,
                                                  tmp_path: Path) -> None:
    _checkpoint(node_fx, tmp_path / "cp.json")
    their_key = cli("audit", "pubkey", home=other).out.strip()
    code, text = _verify(node_fx, tmp_path / "cp.json", pubkey=their_key)
    assert code == BadRequest.exit_code and "signature does not verify" in text
    with pytest.raises(BadRequest):
        Audit(node_fx.node.store, node_fx.home).verify([(tmp_path / "cp.json").read_bytes()],
                                                       trusted_key=their_key)


def test_a_checkpoint_of_another_node_is_refused(node_fx: NodeFixture, other: Path,
                                                 tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.json"
    assert cli("audit", "checkpoint", "--out", str(theirs), home=other).code == 0
    code, text = _verify(node_fx, theirs)  # checked against our own key: forged
    assert code == BadRequest.exit_code and "signature does not verify" in text
    their_key = json.loads(theirs.read_text())["public_key"]
    code, text = _verify(node_fx, theirs, pubkey=their_key)  # genuine, but not ours
    assert code == 1 and "signed for another node" in text


def _flip(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("field, change", [
    ("seq", lambda v: v - 1), ("seq", lambda v: v + 1),
    ("hash", lambda v: ("1" if v[0] == "0" else "0") + v[1:]),
    ("node_id", lambda v: v[:-1] + ("0" if v[-1] != "0" else "1")),
    ("at", lambda v: v + 1), ("signature", _flip),
    ("format", lambda v: "liaison-audit-checkpoint/2"),
])
def test_a_modified_checkpoint_is_rejected(node_fx: NodeFixture, tmp_path: Path,
                                           field: str, change: Any) -> None:
    _busy(node_fx, 2, "m")
    path = tmp_path / "cp.json"
    doc = _checkpoint(node_fx, path)
    assert _verify(node_fx, path)[0] == 0
    doc[field] = change(doc[field])
    path.write_text(json.dumps(doc))
    code, text = _verify(node_fx, path)
    assert code == BadRequest.exit_code, text
    assert "signature does not verify" in text or "not a Liaison audit checkpoint" in text
    key = cli("audit", "pubkey", home=node_fx.home).out.strip()
    assert _verify(node_fx, path, pubkey=key)[0] == BadRequest.exit_code


def test_a_checkpoint_resigned_with_another_key_is_rejected(node_fx: NodeFixture, other: Path,
                                                            tmp_path: Path) -> None:
    """A forger re-signs our node id and a head of their choosing with their own key and
    puts their public key in the document: we check with our key, not the document's."""
    from liaison.audit.checkpoint import load_key, sign

    ours = _checkpoint(node_fx, tmp_path / "cp.json")
    forged = sign(load_key(other), ours["node_id"], ours["seq"] + 5, "f" * 64, ours["at"])
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged.as_dict()))
    code, text = _verify(node_fx, path)
    assert code == BadRequest.exit_code and "signature does not verify" in text


@pytest.mark.parametrize("content", [b"", b"not json", b"[]", b'{"format": 1}',
                                     b'{"node_id": "x", "seq": "one", "hash": "", "at": 0, '
                                     b'"signature": "", "public_key": ""}'])
def test_a_malformed_checkpoint_is_a_sentence_not_a_crash(node_fx: NodeFixture,
                                                          tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    code, text = _verify(node_fx, path)
    assert code == BadRequest.exit_code and "checkpoint" in text


def _truncate_and_rewrite_head(fx: NodeFixture, keep: int) -> None:
    """Delete every entry after `keep` and make audit_head agree with what is left."""
    last = entries(fx.node.store)[keep - 1]
    with sql(fx.node.store) as tx:
        tx("DELETE FROM audit_log WHERE seq > ?", (keep,))
        tx("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (last.seq, last.hash))


def test_truncation_back_past_a_checkpoint_is_detected(node_fx: NodeFixture,
                                                       tmp_path: Path) -> None:
    _busy(node_fx, 4, "t")
    cp = _checkpoint(node_fx, tmp_path / "cp.json")
    _busy(node_fx, 4, "u")
    # truncation that keeps the checkpointed entry: within the anchoring interval
    _truncate_and_rewrite_head(node_fx, cp["seq"] + 1)
    assert _verify(node_fx, tmp_path / "cp.json")[0] == 0
    # back past it: the chain alone looks whole, the checkpoint does not
    _truncate_and_rewrite_head(node_fx, cp["seq"] - 2)
    code, text = _verify(node_fx)
    assert code == 0 and f"up to entry {cp['seq'] - 2}" in text
    code, text = _verify(node_fx, tmp_path / "cp.json")
    assert code == 1, text
    assert f"BROKEN at entry {cp['seq']}" in text and "truncated back past it" in text


def test_history_rewritten_with_every_later_hash_recomputed_is_detected(
        node_fx: NodeFixture, tmp_path: Path) -> None:
    _busy(node_fx, 4, "h")
    cp = _checkpoint(node_fx, tmp_path / "cp.json")
    _busy(node_fx, 2, "i")
    old = entries(node_fx.node.store)
    victim = cp["seq"] - 3
    store = node_fx.node.store
    with sql(store) as tx:  # rewrite the victim's result and re-chain everything after it
        prev = old[victim - 2].hash
        tx("DELETE FROM audit_log WHERE seq >= ?", (victim,))
        for e in old[victim - 1:]:
            d = AuditDraft(e.action, e.target, e.actor_id, e.actor_name, e.org,
                           "denied" if e.seq == victim else e.result, e.request_id, e.details)
            new = chain(d, e.seq, e.at, prev)
            tx("INSERT INTO audit_log (seq, at, request_id, actor_id, actor_name, org, action, "
               "target, result, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
               "?, ?)", (new.seq, new.at, new.request_id, new.actor_id, new.actor_name, new.org,
                         new.action, new.target, new.result, json.dumps(new.details),
                         new.prev_hash, new.hash))
            prev = new.hash
        tx("UPDATE audit_head SET hash = ? WHERE id = 1", (prev,))
    assert _verify(node_fx)[0] == 0  # a consistent forgery: the chain alone cannot tell
    code, text = _verify(node_fx, tmp_path / "cp.json")
    assert code == 1 and f"entry {cp['seq']} differs from the signed checkpoint" in text
