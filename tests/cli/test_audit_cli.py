"""`plimsoll audit verify|adopt|rotate-key`, on the server's store, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import orjson
import sqlalchemy as sa
from cli_support import cli, ok_json
from typer.testing import CliRunner

from plimsoll.cli.main import app
from plimsoll.core.audit.keys import Keyring
from plimsoll.core.audit.store import audit_events
from plimsoll.platform import Platform

EXIT_VERIFICATION_FAILED = 8


def _log_some(platform: Platform) -> list[int]:
    experiment = platform.tracking.create_experiment("audited", actor="alice")
    for _ in range(3):
        platform.tracking.end_run(
            platform.tracking.create_run(experiment.id, actor="alice").id, actor="alice"
        )
    with platform.db.read() as conn:
        return list(conn.execute(sa.select(audit_events.c.seq).order_by(audit_events.c.seq)).scalars())


def test_verify_says_the_log_holds_and_names_the_first_bad_row(platform: Platform) -> None:
    store = platform.settings.resolved_store_url
    seqs = _log_some(platform)
    report = ok_json("audit", "verify", "--store", store)
    assert report["ok"] is True and report["rows_checked"] == len(seqs) and report["problem"] is None
    result = cli("audit", "verify", "--store", store)
    assert result.exit_code == 0 and f"{len(seqs)} rows" in result.stdout

    with platform.db.write() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq == seqs[2]))
    result = cli("audit", "verify", "--store", store)
    assert result.exit_code == EXIT_VERIFICATION_FAILED
    assert f"row {seqs[3]} does not follow row {seqs[1]}" in " ".join(result.stderr.split())
    result = cli("audit", "verify", "--store", store, "--json")
    assert result.exit_code == EXIT_VERIFICATION_FAILED
    report = orjson.loads(result.stdout)
    assert report["ok"] is False and report["first_bad_seq"] == seqs[3] and report["rows_checked"] == 2


def test_adopt_and_rotate_key(platform: Platform, tmp_path: Path, audit_key_file: Path) -> None:
    store = platform.settings.resolved_store_url
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(audit_key_file.read_bytes())
    _log_some(platform)
    rotated = ok_json("audit", "rotate-key", "--key-file", str(key_file))
    assert rotated["key_file"] == str(key_file)
    assert rotated["signing_key"] != platform.audit.keyring.signing.id
    assert len(Keyring.load_or_create(key_file).keys) == 2
    assert ok_json("audit", "verify", "--store", store, "--key-file", str(key_file))["ok"] is True

    lost = tmp_path / "replacement.key"  # made on first use: the old key is not in it
    result = cli("audit", "verify", "--store", store, "--key-file", str(lost))
    assert result.exit_code == EXIT_VERIFICATION_FAILED and "not in the key file" in result.stderr
    refused = CliRunner().invoke(
        app, ["audit", "adopt", "--store", store, "--key-file", str(lost), "--reason", "x"], input="n\n"
    )
    assert refused.exit_code != 0 and "Go on?" in refused.output
    assert (
        cli("audit", "verify", "--store", store, "--key-file", str(lost)).exit_code
        == EXIT_VERIFICATION_FAILED
    )
    adopted = ok_json(
        "audit", "adopt", "--store", store, "--key-file", str(lost), "--reason", "disk lost", "--yes"
    )
    assert adopted["ok"] is True
    assert ok_json("audit", "verify", "--store", store, "--key-file", str(lost))["ok"] is True
    missing = cli("audit", "rotate-key", "--key-file", str(tmp_path / "none.key"))
    assert missing.exit_code == 3 and "no audit key file" in missing.stderr


def test_the_audit_commands_and_their_exit_code_are_documented() -> None:
    from plimsoll.cli import audit

    docs = Path(__file__).resolve().parents[2] / "docs"
    text = (docs / "cli.md").read_text(encoding="utf-8")
    for command in audit.app.registered_commands:
        assert f"plimsoll audit {command.name}" in text
    assert f"| {EXIT_VERIFICATION_FAILED} | `plimsoll audit verify`" in text
    security = (docs / "security.md").read_text(encoding="utf-8")
    assert "audit.verification_failed" in security and "PLIMSOLL_AUDIT_KEY_FILE" in security
