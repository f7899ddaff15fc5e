"""Identity files, the roster document and the audit log: permissions, signatures,
revocation, tamper evidence, and the CLI that manages them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from emcomm.cli import main as cli
from emcomm.errors import UsageError
from emcomm.node import audit
from emcomm.node.identity import Identity, load_identity, load_public
from emcomm.node.roster import Roster, load_roster


def _ident(nid: str, role: str = "responder") -> Identity:
    return Identity.generate(nid, name=f"Person {nid}", org="Red Cross", phone="+86 1", role=role)


def test_secret_identity_file_is_0600_and_never_overwritten(tmp_path: Path) -> None:
    ident = _ident("team1")
    secret, public = ident.save(tmp_path)
    assert secret.stat().st_mode & 0o777 == 0o600
    assert load_public(public) == ident.public and "seed" not in public.read_text()
    with pytest.raises(UsageError, match="never overwritten"):
        _ident("team1").save(tmp_path)


def test_identity_readable_by_others_is_refused(tmp_path: Path) -> None:
    secret, _ = _ident("team1").save(tmp_path)
    os.chmod(secret, 0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        load_identity(tmp_path)


def test_roster_signature_breaks_when_any_entry_changes() -> None:
    auth = _ident("cc-authority", "authority")
    r = Roster.empty(auth.public.verify_key).add(_ident("a").public).sign(auth, 1.0)
    assert r.verified(auth.public.verify_key)
    doc = json.loads(r.to_bytes())
    doc["entries"][0]["role"] = "commander"
    tampered = Roster.from_bytes(json.dumps(doc).encode())
    assert not tampered.verified(auth.public.verify_key)


def test_revoked_key_cannot_return_and_a_new_key_can_be_enrolled() -> None:
    auth = _ident("cc-authority", "authority")
    old = _ident("a")
    r = Roster.empty(auth.public.verify_key).add(old.public).sign(auth, 1.0)
    with pytest.raises(UsageError, match="already has an active key"):
        r.add(_ident("a").public)
    r2 = r.revoke("a", "terminal lost").sign(auth, 2.0)
    assert r2.active("a") is None and r2.by_key(old.key_id).revoked
    with pytest.raises(UsageError, match="revoked"):
        r2.add(old.public)
    new = _ident("a")
    r3 = r2.add(new.public).sign(auth, 3.0)
    assert r3.active("a").key_id == new.key_id and r.accepts_update(r3) is None
    assert r3.accepts_update(r2) == "roster_not_newer"


def test_audit_log_detects_a_changed_removed_or_cut_record(tmp_path: Path) -> None:
    p = tmp_path / "audit.log"
    log = audit.AuditLog(p)
    log.append([{"t": float(i), "ev": "rx", "src": "a", "prio": i % 4, "link": "a-b/hts"} for i in range(5)])
    log.close()
    assert audit.verify(p).ok and audit.verify(p).records == 5
    lines = p.read_text().splitlines(keepends=True)
    p.write_text("".join(lines).replace('"prio":2', '"prio":0', 1))
    bad = audit.verify(p)
    assert not bad.ok and bad.bad_line == 3
    p.write_text("".join(lines[:2] + lines[3:]))
    assert not audit.verify(p).ok
    p.write_text("".join(lines)[:-10])
    assert not audit.verify(p).ok
    p.write_text("".join(lines))
    log = audit.AuditLog(p)             # resumes the chain
    log.append([{"t": 9.0, "ev": "rx"}])
    log.close()
    assert audit.verify(p).records == 6 and audit.verify(p).ok


def test_cli_enrols_signs_shows_revokes_and_audits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    auth, team, roster = tmp_path / "auth", tmp_path / "team1", tmp_path / "roster.json"
    assert cli(["keygen", "--id", "cc-authority", "--name", "Duty Officer", "--org", "EOC", "--role", "authority",
                "--out", str(auth)]) == 0
    assert cli(["keygen", "--id", "team1", "--name", "Li Wei", "--org", "Red Cross", "--phone", "+86 138",
                "--role", "responder", "--out", str(team)]) == 0
    assert cli(["roster", "add", "--roster", str(roster), str(team)]) == 2          # no authority for a new roster
    assert cli(["roster", "add", "--roster", str(roster), "--authority", str(auth), str(team)]) == 0
    assert cli(["roster", "sign", "--roster", str(roster), "--key", str(auth)]) == 0
    capsys.readouterr()
    assert cli(["roster", "show", "--roster", str(roster)]) == 0
    out = capsys.readouterr().out
    assert "version 1, signed" in out and "Li Wei" in out and "IMMEDIATE" in out
    assert cli(["roster", "revoke", "--roster", str(roster), "team1", "--reason", "terminal lost"]) == 0
    assert cli(["roster", "sign", "--roster", str(roster), "--key", str(auth)]) == 0
    assert load_roster(roster).version == 2 and load_roster(roster).active("team1") is None
    log = audit.AuditLog(tmp_path / "audit.log")
    log.append([{"t": 1.0, "ev": "rx", "id": "00", "src": "team1", "dst": "cc", "prio": 0, "link": "l", "via": "r"}])
    log.close()
    assert cli(["audit", "--data-dir", str(tmp_path), "--verify"]) == 0
    (tmp_path / "audit.log").write_text((tmp_path / "audit.log").read_text().replace("team1", "team2"))
    assert cli(["audit", "--data-dir", str(tmp_path), "--verify"]) == 1
    assert "TAMPERED" in capsys.readouterr().out
