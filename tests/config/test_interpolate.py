"""${VAR} / ${VAR:-default} / $${ interpolation, and secrets never shown."""

from __future__ import annotations

import pytest

from federation.config.interpolate import expand
from federation.config.load import load_workspace
from federation.config.model import MASK
from tests.config.wsfiles import ENV, VALID, problems_of


@pytest.mark.parametrize(("text", "env", "want"), [
    ("${A}", {"A": "x"}, "x"),
    ("${A:-dflt}", {}, "dflt"),
    ("${A:-dflt}", {"A": ""}, "dflt"),  # as in a shell: empty counts as unset for ':-'
    ("${A:-}", {}, ""),
    ("${A:-http://h:1/p}", {}, "http://h:1/p"),
    ("postgresql://u:${PW}@h/${DB:-dw}", {"PW": "p"}, "postgresql://u:p@h/dw"),
    ("${A}${B}-${A}", {"A": "1", "B": "2"}, "12-1"),
    ("cost: $${PRICE} and ${A}", {"A": "x", "PRICE": "no"}, "cost: ${PRICE} and x"),
    ("$$ and $X and $", {}, "$$ and $X and $"),
    ("no refs", {}, "no refs"),
])
def test_expand(text: str, env: dict[str, str], want: str) -> None:
    out = expand(text, env)
    assert out.errors == []
    assert out.value == want


def test_expand_reports_env_values_and_refs() -> None:
    out = expand("u:${PW}@${HOST:-h}", {"PW": "pw1"})
    assert out.env_values == ["pw1"] and out.refs == ["PW", "HOST"]


@pytest.mark.parametrize(("text", "message"), [
    ("${MISSING}", "environment variable MISSING is not set"),
    ("a ${", "'${' is not closed with '}'"),
    ("${1BAD}", "'${1BAD}' is not a valid variable reference"),
    ("${A-b}", "'${A-b}' is not a valid variable reference"),
])
def test_expand_errors(text: str, message: str) -> None:
    assert expand(text, {}).errors[0][0] == message


def test_unset_without_default_names_var_key_and_line(write_ws) -> None:
    root = write_ws({"sources.yaml": VALID})
    err = problems_of(root, env={"HUBSPOT_TOKEN": "t0ken-value"})
    assert len(err.problems) == 1
    p = err.problems[0]
    assert (p.location.file, p.location.line, p.location.key_path) == ("configs/sources.yaml", 3,
                                                                       "sources.warehouse.uri")
    assert "environment variable WAREHOUSE_URI is not set" in p.message
    assert "Set WAREHOUSE_URI or give a default: ${WAREHOUSE_URI:-...}" in str(err)
    assert "configs/sources.yaml:3:" in str(err)


def test_interpolation_in_other_sections(write_ws) -> None:
    root = write_ws({"a.yaml": "engine:\n  cache: '${CACHE_DIR:-/tmp/c}'\n  n: ${N}\nsegments:\n  s: {sql: '$${x}'}\n"})
    ws = load_workspace(root, env={"N": "3"})
    assert ws.sections["engine"] == {"cache": "/tmp/c", "n": "3"}
    assert ws.sections["segments"]["s"]["sql"] == "${x}"
    err = problems_of(root)
    assert "configs/a.yaml:3:6 (engine.n): environment variable N is not set" in str(err)


def test_options_from_the_environment_are_coerced(write_ws) -> None:
    root = write_ws({"s.yaml": """\
        sources:
          pg: {type: postgresql, uri: "${U}", batch_size: "${BS:-500}", max_parallel_partitions: "${MP}"}
          crm: {type: hubspot, base_url: "${URL}", rate_limit: "${RL}"}
        """})
    ws = load_workspace(root, env={"U": "postgresql://x", "MP": "4", "URL": "http://h", "RL": "2.5"})
    assert ws.sources["pg"].get("batch_size") == 500
    assert ws.sources["pg"].get("max_parallel_partitions") == 4
    assert ws.sources["crm"].get("rate_limit") == 2.5
    err = problems_of(root, env={"U": "postgresql://x", "MP": "four", "URL": "http://h", "RL": "2.5"})
    assert "option 'max_parallel_partitions' of source 'pg' must be an integer, got a value from the environment" \
        in str(err)


def test_secrets_masked_in_repr_masked_and_values(write_ws) -> None:
    root = write_ws({"sources.yaml": VALID.replace('"${WAREHOUSE_URI}"', '"postgresql://app:${PW}@db/dw"')})
    ws = load_workspace(root, env={**ENV, "PW": "hunter2-pw"})
    wh = ws.sources["warehouse"]
    assert wh.get("uri") == "postgresql://app:hunter2-pw@db/dw"
    assert wh.masked()["uri"] == MASK
    assert {"hunter2-pw", "postgresql://app:hunter2-pw@db/dw"} <= wh.secret_values
    assert ENV["HUBSPOT_TOKEN"] in ws.secret_values()
    for text in (repr(wh), str(wh), repr(ws), repr(ws.sources), str(ws.sources["crm"].masked())):
        assert "hunter2" not in text and ENV["HUBSPOT_TOKEN"] not in text


def test_secret_never_in_error_about_its_own_source(write_ws) -> None:
    # The token is set; the same source has an unknown option and a badly typed one.
    root = write_ws({"sources.yaml": """\
        sources:
          crm:
            type: hubspot
            base_url: "${HUBSPOT_TOKEN}"
            token: "${HUBSPOT_TOKEN}"
            timout: 5
            rate_limit: "${HUBSPOT_TOKEN}"
          wh: {type: postgresql, uri: "x${HUBSPOT_TOKEN}y", batch_size: "${HUBSPOT_TOKEN}"}
        """})
    err = problems_of(root, env=ENV)
    text = str(err) + repr(err) + "".join(str(p) + repr(p) for p in err.problems)
    assert ENV["HUBSPOT_TOKEN"] not in text
    assert "source 'crm' (hubspot) has no option 'timout'" in text
    assert "Did you mean 'timeout'?" in text
    assert "option 'rate_limit' of source 'crm' must be a number, got a value from the environment" in text
    assert "option 'batch_size' of source 'wh' must be an integer" in text


def test_only_secret_options_become_secret_values(write_ws) -> None:
    root = write_ws({"s.yaml": "sources:\n  crm: {type: hubspot, base_url: '${URL}', token: '${TK}'}\n"})
    ws = load_workspace(root, env={"URL": "http://crm.local", "TK": "tk-123456"})
    assert ws.sources["crm"].secret_values == frozenset({"tk-123456"})
