"""Server settings per kind (issue 13): one typed table per kind, checked at start, documented in full.

Every entry of the kind table is covered by construction: its settings class is read, its
defaults round-trip, an unknown key is refused naming ``kinds.NAME.key``, and ``docs/kinds.md``
lists exactly its settings with their defaults.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from verifier_server import kinds
from verifier_server.builtins import builtin_records
from verifier_server.errors import SpecError
from verifier_server.kinds.base import ResourceBag
from verifier_server.kinds.settings import KindSettings, kind_settings, read_settings, setting_names
from verifier_server.testing import StartServer

REPO = Path(__file__).resolve().parent.parent
KINDS = sorted(kinds.KIND_TABLE)


def settings_type(kind: str) -> type[KindSettings]:
    return kinds.kind_class(kind).settings_type


def as_written(value: Any) -> Any:
    """A setting's value as an operator writes it in TOML (tuples are arrays)."""
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("kind", KINDS)
def test_each_kinds_settings_are_its_own_table_and_their_defaults_read_back(kind: str) -> None:
    cls = settings_type(kind)
    assert cls.kind == kind
    assert read_settings(cls, {}) == cls() == read_settings(cls, None)
    written = {f.name: as_written(f.default) for f in dataclasses.fields(cls) if f.default is not None}
    assert read_settings(cls, written) == cls()
    assert kind_settings(ResourceBag({kind: written}), cls) == cls()


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_setting_is_refused_naming_it(kind: str) -> None:
    with pytest.raises(SpecError) as info:
        kinds.read_server_settings({kind: {"max_inflight_samples": 4, "cach_size": 5}})
    assert info.value.field == f"kinds.{kind}.cach_size"
    message = info.value.message  # the closest known setting, else every known one
    assert "did you mean 'cache_size'?" in message or "max_inflight_samples" in message


def test_a_value_of_the_wrong_type_or_out_of_bounds_names_the_setting() -> None:
    cases = [
        ({"math": {"workers": "four"}}, "kinds.math.workers"),
        ({"math": {"start_method": "thread"}}, "kinds.math.start_method"),
        ({"format": {"cap_timeout_s": 0}}, "kinds.format.cap_timeout_s"),
        ({"composite": {"max_leaves": 0}}, "kinds.composite.max_leaves"),
        ({"code": {"processes": -1}}, "kinds.code.processes"),
        ({"judge": {"allow_download": "yes"}}, "kinds.judge.allow_download"),
        ({"judge": {"openai_endpoints": [{"base_url": "ftp://x"}]}}, "kinds.judge.openai_endpoints[0].base_url"),
        ({"ifeval": {"max_inflight_samples": -1}}, "kinds.ifeval.max_inflight_samples"),
        ({"python": []}, "kinds.python"),
        ({"maths": {}}, "kinds.maths"),
    ]
    for tables, field in cases:
        with pytest.raises(SpecError) as info:
            kinds.read_server_settings(tables)
        assert info.value.field == field, (tables, info.value.message)


def test_the_code_kinds_earlier_cap_names_are_refused_naming_the_new_ones() -> None:
    for old, new in settings_type("code").renamed.items():
        with pytest.raises(SpecError, match=new) as info:
            kinds.read_server_settings({"code": {old: 5}})
        assert info.value.field == f"kinds.code.{old}"


@pytest.mark.parametrize("kind", KINDS)
def test_caps_are_named_after_the_spec_field_they_bound(kind: str) -> None:
    """``cap_<field>`` everywhere; a cap's refusal names its setting as an operator writes it."""
    cls = settings_type(kind)
    for name in setting_names(cls):
        if name.startswith("cap_"):
            field = name.removeprefix("cap_")
            assert cls().cap(field).setting == f"[kinds.{kind}] {name}"


def test_a_server_with_a_misspelt_setting_does_not_start(start_server: StartServer) -> None:
    with pytest.raises(RuntimeError, match=r"kinds\.math\.cach_size: unknown option"):
        start_server(config={"kinds": {"math": {"cach_size": 5}}})
    with pytest.raises(RuntimeError, match=r"kinds\.math\.timeout_s: unknown option"):  # the cap is cap_timeout_s
        start_server(config={"kinds": {"math": {"timeout_s": 5}}})


def test_built_ins_come_from_the_kinds_that_declare_them() -> None:
    records = builtin_records()
    for kind in KINDS:
        for spec in kinds.kind_class(kind).builtin_specs():
            assert spec["kind"] == kind
            assert records[spec["name"]].spec.kind == kind
    assert {"math", "think-answer-format", "python-tests", "gsm8k", "ifeval"} <= set(records)


# ---------------------------------------------------------------------------
# docs/kinds.md lists every setting, with its default
# ---------------------------------------------------------------------------


def documented_settings() -> dict[str, dict[str, str]]:
    """``{table heading: {setting: default cell}}`` from the Server settings section of docs/kinds.md."""
    text = (REPO / "docs" / "kinds.md").read_text()
    section = text.split("\n## Server settings\n", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, dict[str, str]] = {}
    for block in section.split("\n### ")[1:]:
        heading, _, body = block.partition("\n")
        rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", body, flags=re.MULTILINE)
        tables[heading.strip().strip("`")] = {name: default.strip() for name, default in rows}
    return tables


def parse_default(cell: str) -> Any:
    cell = cell.strip("`")
    if cell in ("unset",):
        return None
    if cell == "none":
        return ()
    if cell in ("true", "false"):
        return cell == "true"
    number = re.fullmatch(r"([0-9.]+)( MiB)?", cell)
    if number:
        value = float(number.group(1)) * (1024 * 1024 if number.group(2) else 1)
        return value
    return cell


@pytest.mark.parametrize("kind", KINDS)
def test_docs_list_every_server_setting_with_its_default(kind: str) -> None:
    tables = documented_settings()
    documented = {**tables["every kind"], **tables.get(f"[kinds.{kind}]", {})}
    assert f"[kinds.{kind}]" in tables, f"docs/kinds.md has no section for [kinds.{kind}]"
    assert set(documented) == set(setting_names(settings_type(kind)))
    for spec in dataclasses.fields(settings_type(kind)):
        assert parse_default(documented[spec.name]) == spec.default, spec.name
