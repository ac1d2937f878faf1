"""Audiences: fields, consent, PII hashing (known SHA-256 vectors), preview, diffs over source changes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from federation import ConfigError, UsageError, Workspace
from models.pii import hash_value, normalize
from tests.segments import data

SEGMENTS = """
everyone: {from: shop.customers}
de: {from: shop.customers, where: [{country: DE}]}
"""

AUDIENCES = """
audiences:
  crm:
    segment: everyone
    key: email
    fields: {email: email, land: country, value: ltv, phone: phone}
    consent: {field: consent, value: 1}
    pii: {email: email, phone: phone}
    destination: {type: csv, path: out/crm.csv, hash_pii: true, phone_country_code: "49"}
  plain:
    segment: everyone
    key: customer_id
    fields: [customer_id, email, country]
    destination: {type: csv, path: out/plain.csv}
"""


def _ws(tmp_path: Path, audiences: str = AUDIENCES) -> Workspace:
    root = data.workspace(tmp_path, SEGMENTS)
    (root / "audiences.yaml").write_text(textwrap.dedent(audiences))
    return Workspace.load(root)


# -- PII ----------------------------------------------------------------------------------------
def test_sha256_known_vectors() -> None:
    # FIPS 180-2 "abc", and the address ad platforms use in their examples
    assert hash_value(" ABC ", "other") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hash_value("  Test@Example.COM\t", "email") == "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
    assert hash_value(None, "email") is None and hash_value("  ", "email") is None


@pytest.mark.parametrize("raw,cc,want", [
    ("+1 (650) 555-1212", None, "16505551212"),
    ("001 650 555 1212", None, "16505551212"),
    ("030 1234-567", "49", "49301234567"),
    ("030 1234-567", None, "0301234567"),
    ("+49 (0) 30 1234567", None, "490301234567"),  # a written trunk zero is kept: only digits are taken
])
def test_phone_normalisation(raw: str, cc: str | None, want: str) -> None:
    assert normalize(raw, "phone", cc) == want


def test_phone_hash() -> None:
    assert hash_value("+1 (650) 555-1212", "phone") == "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"


# -- fields, consent, hashing -------------------------------------------------------------------
def test_fields_consent_and_hashing(tmp_path: Path) -> None:
    import hashlib

    with _ws(tmp_path) as ws:
        aud = ws.audience("crm")
        table = aud.to_arrow()
        assert table.schema.names == ["email", "land", "value", "phone"]
        custs = data.customers()
        consenting = [c for c in custs if c["consent"] == 1]
        assert table.num_rows == len(consenting)
        want = {hashlib.sha256(c["email"].strip().lower().encode()).hexdigest() for c in consenting}
        assert set(table.column("email").to_pylist()) == want
        c = next(c for c in consenting if c["phone"])
        row = next(r for r in table.to_pylist() if r["email"] == hashlib.sha256(c["email"].strip().lower().encode()).hexdigest())
        digits = "".join(ch for ch in c["phone"] if ch.isdigit())
        assert row["phone"] == hashlib.sha256(digits.encode()).hexdigest()
        assert row["land"] == c["country"]  # not PII: delivered as is
        preview = aud.preview(sample=3)
        assert preview["members"] == len(custs)
        assert preview["excluded_without_consent"] == len(custs) - len(consenting)
        assert preview["exported"] == len(consenting) and len(preview["sample"]) == 3
        assert preview["hashed_pii"] == ["email", "phone"]


def test_no_hashing_unless_the_destination_asks(tmp_path: Path) -> None:
    with _ws(tmp_path) as ws:
        aud = ws.audience("plain")
        rows = aud.to_arrow().to_pylist()
        assert rows[0] == {"customer_id": 1, "email": "user1@example.com", "country": data.customers()[0]["country"]}
        assert aud.preview()["excluded_without_consent"] == 0


def test_audience_problems(tmp_path: Path) -> None:
    bad = """
    audiences:
      a:
        segment: evryone
        key: email
        fields: [email]
        destination: {type: csv, path: x.csv}
      b:
        segmnt: everyone
        fields: {email: 3}
        mode: sometimes
        destination: {type: fax}
    """
    with _ws(tmp_path, bad) as ws:
        with pytest.raises(ConfigError, match="no segment named 'evryone'"):
            ws.audience("a")
        with pytest.raises(ConfigError) as e:
            ws.audience("b")
        text = e.value.render()
        for part in ("unknown key 'segmnt'", "'key' (the field", "mode 'sometimes'", "csv, parquet, webhook",
                     "is not a pair of column names"):
            assert part in text
        assert "audiences.yaml:" in text
        with pytest.raises(UsageError, match="no audience named 'c'"):
            ws.audience("c")


# -- diffs over successive changes of the source -------------------------------------------------
def test_diff_over_successive_source_changes(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    db = tmp_path / "data" / "shop.db"
    aud = ws.audience("plain")
    first = aud.diff({})
    assert first.counts.added == 150 and first.changed.num_rows == 0 and first.removed == []
    state = dict(first.hashes)
    assert aud.diff(state).summary() | {"read": 0} == {"read": 0, "added": 0, "changed": 0, "unchanged": 150,
                                                       "removed": 0, "no_key": 0, "duplicate_keys": 0}
    con = sqlite3.connect(db)
    con.execute("INSERT INTO customers (customer_id, email, country) VALUES (151, 'new@x.com', 'FR')")
    con.execute("UPDATE customers SET country = 'JP' WHERE customer_id = 2")
    con.execute("DELETE FROM customers WHERE customer_id = 3")
    con.execute("UPDATE customers SET customer_id = 1000 WHERE customer_id = 4")  # a key change
    con.execute("INSERT INTO customers (customer_id, email) VALUES (NULL, 'nokey@x.com')")
    con.commit()
    ws.close()
    ws = Workspace.load(tmp_path)  # a fresh read (as each `cdp` run is)
    d = ws.audience("plain").diff(state)
    assert sorted(d.added.column("customer_id").to_pylist()) == [151, 1000]
    assert d.changed.column("customer_id").to_pylist() == [2] and d.changed.column("country").to_pylist() == ["JP"]
    assert sorted(d.removed) == ["3", "4"]
    assert d.counts.no_key == 1 and d.counts.unchanged == 147
    state = {k: v for k, v in state.items() if k not in d.removed} | d.hashes
    con.execute("UPDATE customers SET email = 'changed@x.com' WHERE customer_id = 151")
    con.execute("DELETE FROM customers WHERE customer_id IS NULL")
    con.commit()
    ws.close()
    ws = Workspace.load(tmp_path)
    d2 = ws.audience("plain").diff(state)
    assert d2.changed.column("customer_id").to_pylist() == [151] and d2.added.num_rows == 0 and d2.removed == []
    con.close()
    ws.close()


def test_duplicate_keys_are_counted(tmp_path: Path) -> None:
    _ws(tmp_path).close()
    con = sqlite3.connect(tmp_path / "data" / "shop.db")
    con.execute("INSERT INTO customers (customer_id, email) VALUES (5, 'dup@x.com')")
    con.commit()
    con.close()
    with Workspace.load(tmp_path) as ws:
        assert ws.audience("plain").diff({}).counts.duplicate_keys == 1


def test_export_streams_arrow_to_stdout(tmp_path: Path) -> None:
    import pyarrow as pa

    _ws(tmp_path).close()
    code = ("import sys, typer\nfrom cli import state, audience_cmd\napp = typer.Typer()\n"
            "@app.callback()\ndef root(workspace: str = typer.Option(None, '--workspace')):\n"
            "    from pathlib import Path\n    state.reset(Path(workspace), False)\n"
            "app.add_typer(audience_cmd.app, name='audience')\napp()\n")
    out = subprocess.run([sys.executable, "-c", code, "--workspace", str(tmp_path), "audience", "export", "crm",
                          "--output", "-"], capture_output=True, timeout=60, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr.decode()
    table = pa.ipc.open_stream(out.stdout).read_all()
    assert table.schema.names == ["email", "land", "value", "phone"]
    assert table.num_rows == sum(c["consent"] for c in data.customers())
    assert out.stderr == b""  # quiet when piped
