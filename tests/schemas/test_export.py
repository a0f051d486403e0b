"""The exported JSON Schema files: up to date, no floats, bounded strings; the CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

import deltafed.schemas as schemas
from deltafed import ConfigurationError
from deltafed.cli import _schemas as cli_schemas
from deltafed.schemas import _export

DOCS_SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def rendered() -> dict[str, Any]:
    return {m.__name__: m.model_json_schema() for m in _export.exported_models()}


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deltafed")
    cli_schemas.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


def test_committed_schema_files_match_the_code() -> None:
    problems = schemas.check_json_schemas(DOCS_SCHEMAS)
    assert problems == [], "run: deltafed schemas export docs/schemas\n" + "\n".join(problems)


def test_every_public_model_is_exported() -> None:
    public_models = {
        name
        for name in schemas.__all__
        if isinstance(getattr(schemas, name), type)
        and issubclass(getattr(schemas, name), schemas.WireModel)
        and getattr(schemas, name) is not schemas.WireModel
    }
    assert public_models <= set(rendered())
    assert len(_export.EXPORTED_MODELS) == len(set(_export.EXPORTED_MODELS))


def _walk(node: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found.extend(_walk(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_walk(value, f"{path}/{i}"))
    return found


def _types(node: dict[str, Any]) -> list[str]:
    t = node.get("type", [])
    return [t] if isinstance(t, str) else list(t)


def test_no_number_type_anywhere() -> None:
    offenders = [
        f"{name}{path}"
        for name, schema in rendered().items()
        for path, node in _walk(schema, "")
        if "number" in _types(node)
    ]
    assert offenders == []


def test_every_string_is_bounded() -> None:
    bounded_formats = {"date", "date-time"}
    offenders = [
        f"{name}{path}"
        for name, schema in rendered().items()
        for path, node in _walk(schema, "")
        if "string" in _types(node)
        and not ({"maxLength", "pattern", "enum", "const"} & node.keys())
        and node.get("format") not in bounded_formats
    ]
    assert offenders == []


def test_every_collection_of_ours_is_bounded() -> None:
    offenders = [
        f"{m.__name__}{path}"
        for m in _export.exported_models()
        if m.__module__.startswith("deltafed.schemas")
        for path, node in _walk(m.model_json_schema(), "")
        if ("array" in _types(node) and "maxItems" not in node)
        or ("patternProperties" in node and "maxProperties" not in node)
    ]
    assert offenders == []


def test_the_walk_would_catch_offenders() -> None:
    # The two checks above must be able to fail: feed them a schema that breaks both rules.
    bad = {"properties": {"x": {"type": "number"}, "y": {"type": "string"}}}
    nodes = _walk(bad, "")
    assert any("number" in _types(n) for _, n in nodes)
    assert any("string" in _types(n) and "maxLength" not in n for _, n in nodes)


def test_export_writes_stable_formatted_files(tmp_path: Path) -> None:
    paths = schemas.export_json_schemas(tmp_path / "out")
    assert paths == sorted(paths)
    assert {p.name for p in paths} == {f"{name}.schema.json" for name in rendered()}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert text.endswith("}\n")
        assert (
            text
            == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
    assert schemas.check_json_schemas(tmp_path / "out") == []
    # Writing again changes nothing.
    before = {p: p.read_bytes() for p in paths}
    schemas.export_json_schemas(tmp_path / "out")
    assert {p: p.read_bytes() for p in paths} == before


def test_check_names_changed_missing_and_stale_files(tmp_path: Path) -> None:
    schemas.export_json_schemas(tmp_path)
    (tmp_path / "Problem.schema.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "Consent.schema.json").unlink()
    (tmp_path / "Gone.schema.json").write_text("{}\n", encoding="utf-8")
    assert schemas.check_json_schemas(tmp_path) == [
        "Consent.schema.json: missing",
        "Problem.schema.json: differs from the code",
        "Gone.schema.json: stale (no exported model has this name)",
    ]


def test_cli_export_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "schemas"
    assert run_cli(["schemas", "export", str(target), "--check"]) == 1
    assert "AuditEntry.schema.json: missing" in capsys.readouterr().out
    assert not target.exists()  # --check writes nothing

    assert run_cli(["schemas", "export", str(target)]) == 0
    assert str(target / "Problem.schema.json") in capsys.readouterr().out
    assert run_cli(["schemas", "export", str(target), "--check"]) == 0
    assert "up to date" in capsys.readouterr().out

    path = target / "UseScenario.schema.json"
    path.write_text(path.read_text(encoding="utf-8").replace("2", "3"), encoding="utf-8")
    assert run_cli(["schemas", "export", str(target), "--check"]) == 1
    out = capsys.readouterr().out
    assert "UseScenario.schema.json: differs from the code" in out
    assert "Problem.schema.json" not in out


def test_cli_is_registered_in_deltafed_main(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deltafed.cli import main

    assert main(["schemas", "export", str(tmp_path), "--check"]) == 1
    assert "Problem.schema.json: missing" in capsys.readouterr().out
    assert main(["schemas", "export", str(tmp_path)]) == 0
    assert main(["schemas", "export", str(tmp_path), "--check"]) == 0


def test_cli_default_directory() -> None:
    parser = argparse.ArgumentParser()
    cli_schemas.register(parser.add_subparsers())
    assert parser.parse_args(["schemas", "export"]).directory == Path("docs/schemas")


def test_bad_export_list_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in [
        "deltafed.schemas.nope:Model",
        "deltafed.schemas.audit:Missing",
        "deltafed.schemas.audit:OUTCOMES",
    ]:
        monkeypatch.setattr(_export, "EXPORTED_MODELS", (spec,))
        with pytest.raises(ConfigurationError):
            _export.exported_models()
    monkeypatch.setattr(
        _export, "EXPORTED_MODELS", ("deltafed.schemas:Problem", "deltafed.schemas.problem:Problem")
    )
    with pytest.raises(ConfigurationError, match="two exported models"):
        _export.exported_models()


def test_member_id_rule_is_one_rule_in_prose_code_and_schema() -> None:
    """The member id pattern of docs/schemas/ is written in protocol §1 and decides exactly as
    parse_member_id does (issue 12: one rule, not three)."""
    import json
    import re
    from pathlib import Path

    from deltafed import IdentifierError
    from deltafed.schemas.identifiers import DIVISIONS, parse_member_id

    root = Path(__file__).resolve().parents[2]
    schema = json.loads((root / "docs/schemas/Consent.schema.json").read_text("utf-8"))
    pattern = schema["properties"]["requester"]["pattern"]
    assert f"`{pattern}`" in (root / "docs/protocol.md").read_text("utf-8")
    compiled = re.compile(pattern)
    slugs = ["a", "gongan", "a-b", "-a", "a-", "A", "a" * 48, "a" * 49, "a_b", ""]
    regions = [*DIVISIONS, "390000", "000000", "31000", "3100000"]
    for region in regions:
        for department in slugs:
            for system in (None, "hukou", "x-", "a" * 48):
                text = f"{region}/{department}" + (f"/{system}" if system else "")
                try:
                    parse_member_id(text)
                    accepted = True
                except IdentifierError:
                    accepted = False
                assert (compiled.fullmatch(text) is not None) == accepted, text
