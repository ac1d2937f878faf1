"""Output formats are contracts: json array, jsonl, csv header, Arrow IPC stream, Parquet."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from tests.cli.conftest import invoke, run

Q = "SELECT id, email, country FROM shop.customers WHERE id <= 3 ORDER BY id"


def test_json_is_one_array_of_row_objects(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "query", Q, "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert isinstance(rows, list) and [row["id"] for row in rows] == [1, 2, 3]
    assert set(rows[0]) == {"id", "email", "country"}


def test_json_empty_answer_is_empty_array(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "query", "SELECT id FROM shop.customers WHERE id < 0", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == []


def test_jsonl_is_one_object_per_line(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "query", Q, "--format", "jsonl")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3]


def test_csv_has_header_then_rows(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "query", Q, "--format", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["id", "email", "country"]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]


def test_json_dates_timestamps_and_nulls(demo_ws: Path) -> None:
    sql = ("SELECT signup_date, CAST(NULL AS TEXT) AS nothing FROM shop.customers WHERE id = 1")
    r = invoke("-w", str(demo_ws), "query", sql, "--format", "json")
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)[0]
    assert row["nothing"] is None
    assert len(row["signup_date"]) == 10 and row["signup_date"][4] == "-"
    r = invoke("-w", str(demo_ws), "query", "SELECT max(ts) AS last FROM events.events", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    last = json.loads(r.stdout)["last"]
    assert last.startswith("2025-12-") and last.endswith("Z") and "T" in last


def test_table_when_piped_is_plain_and_aligned(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "query", Q)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["id", "email", "country"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[-1] == "(3 rows)"


def test_arrow_stream_to_stdout_is_readable(demo_ws: Path) -> None:
    p = run("-w", str(demo_ws), "query", Q, "--format", "arrow", binary=True)
    assert p.returncode == 0, p.stderr
    table = ipc.open_stream(pa.BufferReader(p.stdout)).read_all()
    assert table.column_names == ["id", "email", "country"] and table.num_rows == 3


def test_parquet_to_file(demo_ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "answer.parquet"
    r = invoke("-w", str(demo_ws), "query", Q, "--format", "parquet", "--output", str(out))
    assert r.exit_code == 0, r.output
    assert pq.read_table(out).column("id").to_pylist() == [1, 2, 3]


def test_parquet_to_stdout_is_binary(demo_ws: Path) -> None:
    p = run("-w", str(demo_ws), "query", Q, "--format", "parquet", binary=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout[:4] == b"PAR1"
    assert pq.read_table(pa.BufferReader(p.stdout)).num_rows == 3


def test_output_file_for_text_formats(demo_ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    r = invoke("-w", str(demo_ws), "query", Q, "--format", "csv", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    assert out.read_text().startswith("id,email,country\n")


def test_query_from_file_and_params(demo_ws: Path, tmp_path: Path) -> None:
    sql = tmp_path / "q.sql"
    sql.write_text("SELECT count(*) AS n FROM shop.customers WHERE country = :country AND id <= :max_id")
    r = invoke("-w", str(demo_ws), "query", "-f", str(sql), "--param", "country=DE", "--param", "max_id=100",
               "--format", "jsonl")
    assert r.exit_code == 0, r.output
    n = json.loads(r.stdout)["n"]
    direct = invoke("-w", str(demo_ws), "query",
                    "SELECT count(*) AS n FROM shop.customers WHERE country = 'DE' AND id <= 100", "--format", "jsonl")
    assert 0 < n == json.loads(direct.stdout)["n"]


def test_no_pushdown_gives_the_same_rows(demo_ws: Path) -> None:
    sql = ("SELECT c.country, count(*) AS n FROM shop.customers c JOIN shop.orders o ON o.customer_id = c.id"
           " WHERE o.status = 'paid' GROUP BY c.country ORDER BY c.country")
    a = invoke("-w", str(demo_ws), "query", sql, "--format", "json")
    b = invoke("-w", str(demo_ws), "query", sql, "--format", "json", "--no-pushdown")
    assert a.exit_code == b.exit_code == 0, a.output + b.output
    assert json.loads(a.stdout) == json.loads(b.stdout)


def test_dialect_reads_other_sql_flavours(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "query", "SELECT `id` FROM shop.customers WHERE id <= 2 ORDER BY id",
               "--dialect", "mysql", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    assert [json.loads(line)["id"] for line in r.stdout.splitlines()] == [1, 2]


def test_explain_text_and_json(demo_ws: Path) -> None:
    sql = "SELECT id FROM shop.customers WHERE country = :c LIMIT 3"
    r = invoke("-w", str(demo_ws), "explain", sql, "--param", "c=DE")
    assert r.exit_code == 0, r.output
    assert "source=shop (sqlite)" in r.stdout and "native SQL:" in r.stdout and "'DE'" in r.stdout
    r = invoke("-w", str(demo_ws), "explain", sql, "--param", "c=DE", "--format", "json", "--analyze")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc) >= {"query", "dialect", "fragments", "arrow", "analyze"}
    frag = doc["fragments"][0]
    assert frag["source"] == "shop" and frag["request"]["kind"] == "sql"
    assert set(frag["pushed"]) == {"columns", "filters", "limit", "order", "aggregate", "join"}
    assert frag["analyze"]["rows"] == 3


def test_query_from_stdin(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "query", "-f", "-", "--format", "csv", input="SELECT 42 AS answer")
    assert r.exit_code == 0, r.output
    assert r.stdout == "answer\n42\n"


def test_sources_list_and_describe(demo_ws: Path) -> None:
    r = invoke("-w", str(demo_ws), "sources", "list", "--format", "json")
    assert r.exit_code == 0, r.output
    assert [s["name"] for s in json.loads(r.stdout)] == ["shop", "events", "support", "newsletter"]
    r = invoke("-w", str(demo_ws), "sources", "describe", "shop", "--table", "orders", "--format", "json")
    assert r.exit_code == 0, r.output
    (doc,) = json.loads(r.stdout)
    assert doc["source"] == "shop" and doc["table"] == "orders"
    assert [c["name"] for c in doc["columns"]] == ["id", "customer_id", "amount", "status", "ordered_at"]
    r = invoke("-w", str(demo_ws), "sources", "describe")
    assert r.exit_code == 0 and "events.events" in r.stdout and "support.tickets" in r.stdout
    r = invoke("-w", str(demo_ws), "sources", "describe", "--table", "orders")
    assert r.exit_code == 2 and "--table needs a source name" in r.stderr
    r = invoke("-w", str(demo_ws), "sources", "describe", "shopp")
    assert r.exit_code == 2 and "Did you mean 'shop'?" in r.stderr
