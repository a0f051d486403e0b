"""``deltafed onboard``: everything a new region needs to join the federation, in one directory.

``onboard REGION --out DIR`` writes, for the region's node and for the conformance tester the
federation lends it:

* the private signing keys (PKCS#8 PEM, mode 0600) and their public halves (``.pub``, PEM):
  ``node``, ``tester``, ``compromised`` (a second tester key the registry marks compromised, for
  ``DF-NEG-011``) and ``outsider`` (a member no scenario names, for ``DF-POL-001``); and the
  node's audit ``subject.key`` (secret, 0600);
* ``catalogue.json``: the region's certificate catalogue, for ``registry set-catalogue`` (from
  the adapter given with ``--adapter``, else the synthetic catalogue of the region);
* ``scenarios.json``: the tester's use scenarios naming the region as provider, for
  ``registry add-scenario`` (ids ``conformance-REGION-...``, so they cannot clash with another
  region's);
* ``registry-steps.sh``: the ``deltafed registry`` commands that enter the region's member, the
  tester, the outsider, their keys, the catalogue and the scenarios into the anchor's working
  document (``doc.json``): what the anchor runs to let the region in;
* ``profile.toml``: the conformance profile naming those scenarios and test subjects;
* ``node.toml``: a configuration for ``deltafed serve`` on ``--adapter`` (its sandbox).

With ``--test-federation`` it also creates a federation of its own to try all of this before
joining: an anchor key, ``anchor.json``, the working document ``doc.json`` with the steps
applied, and ``registry.jws`` signed for 30 days. Nothing is overwritten without ``--force``.

Conformance and sandbox material: it draws on the fixtures of :mod:`deltafed.testing` (the
default test scenarios, the synthetic catalogue), which production code does not import.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import secrets
import shlex
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from deltafed._errors import ConfigurationError
from deltafed.keys import PrivateKey
from deltafed.schemas.identifiers import parse_member_id

__all__ = ["register"]

_DELTA: Final = ("310000", "320000", "330000", "340000")
#: What the steps and the profile call each key file (private ``.pem``, public ``.pub``).
_KEYS: Final = ("node", "tester", "compromised", "outsider")
_TEST_VALID_DAYS: Final = 30


class _Step:
    """One ``deltafed registry`` command; file names are relative to the output directory."""

    def __init__(self, *words: str | Path) -> None:
        self.words = words

    def text(self) -> str:
        return shlex.join(["deltafed", *(str(w) for w in self.words)])

    def argv(self, folder: Path) -> list[str]:
        return [str(folder / w) if isinstance(w, Path) else w for w in self.words]


def _plan(args: argparse.Namespace) -> dict[str, Any]:
    region = args.region
    member = args.member or f"{region}/dsj"
    if parse_member_id(member).region != region:
        raise ConfigurationError(f"member {member} is not of region {region}")
    other = next(r for r in _DELTA if r != region)
    tester = args.tester or f"{other}/conformance"
    outsider = f"{parse_member_id(tester).region}/conformance-outsider"
    return {
        "region": region,
        "member": member,
        "tester": tester,
        "outsider": outsider,
        "name": args.name or f"Region {region} node",
        "endpoint": args.endpoint or f"https://{region}.node.example.test",
    }


def _outputs(test_federation: bool) -> list[str]:
    names = [f"{k}.{ext}" for k in _KEYS for ext in ("pem", "pub")]
    names += [
        "subject.key",
        "catalogue.json",
        "scenarios.json",
        "registry-steps.sh",
        "profile.toml",
        "node.toml",
    ]
    if test_federation:
        names += ["anchor.pem", "anchor.pub", "anchor.json", "doc.json", "registry.jws"]
        names += ["registry.1.jws"]
    return names


def _catalogue(region: str, adapter: str | None) -> tuple[Any, str]:
    from deltafed.adapters import create_adapter, load_adapter
    from deltafed.testing import synthetic_catalogue

    if adapter is None:
        return synthetic_catalogue(region), f"the synthetic catalogue of {region}"
    load_adapter(adapter)  # a clear error for a name that is not installed
    built = create_adapter(adapter, {"sandbox": True})
    catalogue = built.catalogue()
    if built.region != region:
        raise ConfigurationError(f"adapter {adapter} serves region {built.region}, not {region}")
    return catalogue, f"adapter {adapter}"


def _scenarios(plan: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    from deltafed.schemas.catalogue import ScenarioList, UseScenario
    from deltafed.testing import default_scenarios

    renamed: dict[str, str] = {}
    scenarios = []
    for scenario in default_scenarios(plan["tester"], [plan["region"]]):
        new_id = f"conformance-{plan['region']}-{scenario.id.removeprefix('yrd-')}"
        renamed[scenario.id] = new_id
        wire = scenario.to_wire()
        wire["id"] = new_id
        wire["name"] = f"Conformance tests of {plan['region']}: {scenario.name}"
        scenarios.append(UseScenario.parse(wire))
    return ScenarioList(scenarios=tuple(scenarios)), renamed


def _toml_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _profile_text(plan: dict[str, Any], renamed: dict[str, str]) -> str:
    from deltafed_conformance import synthetic_profile
    from deltafed_conformance._targets import profile_to_mapping

    profile = synthetic_profile(plan["region"], node=plan["member"])
    for section in ("verify", "release", "record", "consent_record", "match", "count", "subscribe"):
        subject = getattr(profile, section)
        if subject is not None:
            subject = replace(subject, scenario=renamed[subject.scenario])
            profile = replace(profile, **{section: subject})
    data = profile_to_mapping(profile)
    data["keys"] = {
        "compromised_key": "compromised.pem",
        "outsider_id": plan["outsider"],
        "outsider_key": "outsider.pem",
    }
    lines = [
        f"# Conformance profile of {plan['member']}, written by deltafed onboard.",
        "# The subjects are of deltafed's synthetic population, which the fake platform of a",
        "# plugin made by `deltafed adapter new` answers from. Against your platform's test",
        "# environment, name test subjects it holds (docs/conformance.md, 'Write a profile').",
        f"node = {_toml_value(data.pop('node'))}",
    ]
    for section, entries in data.items():
        lines.append(f"\n[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in entries.items())
    return "\n".join(lines) + "\n"


def _node_toml(plan: dict[str, Any], adapter: str | None) -> str:
    return "\n".join(
        [
            f"# deltafed serve --config node.toml: the node of {plan['member']}.",
            "[node]",
            f"member = {_toml_value(plan['member'])}",
            'key_file = "node.pem"',
            'host = "127.0.0.1"',
            "port = 8443",
            "",
            "[registry]",
            'file = "registry.jws"',
            'anchor = "anchor.json"',
            "",
            "[audit]",
            'db = "audit.db"',
            'subject_key_file = "subject.key"',
            "",
            "[replay]",
            'db = "replay.db"',
            "",
            "[state]  # subscriptions and events, matching rate limits",
            'db = "state.db"',
            "",
            "[adapter]",
            f"name = {_toml_value(adapter or 'memory')}",
            "[adapter.config]",
            "sandbox = true" if adapter else f"region = {_toml_value(plan['region'])}",
            "",
        ]
    )


def _steps(plan: dict[str, Any], keys: dict[str, PrivateKey], at: str) -> list[_Step]:
    doc = Path("doc.json")
    steps = [
        _Step("registry", "add-member", "--doc", doc, "--id", plan["member"], "--name",
              plan["name"], "--endpoint", plan["endpoint"]),
        _Step("registry", "add-key", "--doc", doc, "--member", plan["member"], "--key",
              Path("node.pub"), "--not-before", at),
        _Step("registry", "add-member", "--doc", doc, "--id", plan["tester"], "--name",
              "Conformance tester (test identity)"),
        _Step("registry", "add-key", "--doc", doc, "--member", plan["tester"], "--key",
              Path("tester.pub"), "--not-before", at),
        _Step("registry", "add-key", "--doc", doc, "--member", plan["tester"], "--key",
              Path("compromised.pub"), "--not-before", at),
        _Step("registry", "compromise-key", "--doc", doc, "--member", plan["tester"],
              # one word: a kid may begin with "-", which argparse would take for an option
              f"--kid={keys['compromised'].kid}", "--at", at),
        _Step("registry", "add-member", "--doc", doc, "--id", plan["outsider"], "--name",
              "Conformance outsider (test identity, named by no scenario)"),
        _Step("registry", "add-key", "--doc", doc, "--member", plan["outsider"], "--key",
              Path("outsider.pub"), "--not-before", at),
        _Step("registry", "set-catalogue", "--doc", doc, "--file", Path("catalogue.json")),
        _Step("registry", "add-scenario", "--doc", doc, "--file", Path("scenarios.json")),
    ]  # fmt: skip
    return steps


def _write(path: Path, text: str, *, secret: bool = False) -> None:
    try:
        if secret:  # created readable by its owner only, as the private keys are
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
                fh.write(text)
        else:
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc}") from exc


def _run_quietly(argv: list[str]) -> None:
    from deltafed.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    if status != 0:
        raise ConfigurationError(f"deltafed {shlex.join(argv)} failed (exit status {status})")


def _cmd_onboard(args: argparse.Namespace) -> int:
    from deltafed._profile import crypto_profile

    plan = _plan(args)
    out = Path(args.out)
    names = _outputs(args.test_federation)
    existing = [n for n in names if (out / n).exists()]
    if existing and not args.force:
        raise ConfigurationError(
            f"{out} already holds {', '.join(existing[:4])}{' ...' if len(existing) > 4 else ''}",
            remediation="Choose another --out, or overwrite with --force.",
        )
    catalogue, catalogue_source = _catalogue(plan["region"], args.adapter)
    scenarios, renamed = _scenarios(plan)
    alg = crypto_profile(args.crypto).algorithms[0]
    out.mkdir(parents=True, exist_ok=True)
    for name in existing:
        (out / name).unlink()
    keys = {name: PrivateKey.generate(alg) for name in _KEYS}
    for name, key in keys.items():
        key.save(out / f"{name}.pem")
        _write(out / f"{name}.pub", key.public_key.to_pem().decode("ascii"))
    _write(out / "subject.key", secrets.token_hex(32) + "\n", secret=True)
    _write(out / "catalogue.json", json.dumps(catalogue.to_wire(), indent=2, ensure_ascii=False))
    _write(out / "scenarios.json", json.dumps(scenarios.to_wire(), indent=2, ensure_ascii=False))
    # Keys valid from a day back: the suite's deliberately old requests are then refused for
    # their age, not for the key's window.
    at = (datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)).isoformat()
    steps = _steps(plan, keys, at)
    _write(
        out / "registry-steps.sh",
        "# The anchor's steps to let "
        f"{plan['member']} in: run them in this directory on the working document doc.json,\n"
        "# then sign and publish the next version (docs/trust.md, Operator steps).\n"
        + "".join(step.text() + "\n" for step in steps),
    )
    _write(out / "profile.toml", _profile_text(plan, renamed))
    _write(out / "node.toml", _node_toml(plan, args.adapter))
    print(f"onboarded {plan['member']} into {out} ({len(names)} files):")
    print(f"  keys (0600) and public halves: {', '.join(f'{k}.pem/.pub' for k in _KEYS)}")
    for name, key in keys.items():
        print(f"    {name}: {key.kid}")
    print(f"  catalogue.json from {catalogue_source}")
    print(f"  scenarios.json: {', '.join(s.id for s in scenarios.scenarios)}")
    print(f"  tester {plan['tester']}, outsider {plan['outsider']}")
    print("  registry-steps.sh, profile.toml, node.toml, subject.key (0600)")
    if args.test_federation:
        anchor = PrivateKey.generate(alg)
        anchor.save(out / "anchor.pem")
        _write(out / "anchor.pub", anchor.public_key.to_pem().decode("ascii"))
        init = ["registry", "init", "--federation", f"test-{plan['region']}", "--anchor-key",
                str(out / "anchor.pub"), "--out", str(out / "doc.json"), "--anchor-out",
                str(out / "anchor.json"), "--crypto", args.crypto]  # fmt: skip
        _run_quietly(init)
        for step in steps:
            _run_quietly(step.argv(out))
        _run_quietly(["registry", "sign", "--doc", str(out / "doc.json"), "--key",
                      str(out / "anchor.pem"), "--out", str(out / "registry.jws"),
                      "--valid-days", str(_TEST_VALID_DAYS)])  # fmt: skip
        print(
            f"  test federation: anchor.pem, anchor.json, doc.json with the steps applied, "
            f"registry.jws (version 1, valid {_TEST_VALID_DAYS} days)"
        )
    return 0


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "onboard",
        help="write what a new region needs: keys, registry steps, scenarios, profile",
        description=(
            "Write into DIR what a new region needs to join the federation and to run the "
            "conformance suite: its node's key, the tester's keys, the catalogue, the tester "
            "scenarios, the registry steps for the anchor, a conformance profile and a node "
            "configuration. Private keys are written with mode 0600."
        ),
    )
    parser.add_argument("region", metavar="REGION", choices=_DELTA, help="e.g. 340000")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write the files")
    parser.add_argument("--member", metavar="ID", help="the node's member id (default REGION/dsj)")
    parser.add_argument("--name", help="the node's name in the registry")
    parser.add_argument("--endpoint", metavar="URL", help="the node's public base URL")
    parser.add_argument(
        "--adapter", metavar="NAME", help="the node's adapter (catalogue, node.toml)"
    )
    parser.add_argument(
        "--tester",
        metavar="ID",
        help="the tester's member id (default: ANOTHER_REGION/conformance)",
    )
    parser.add_argument(
        "--crypto",
        choices=("international", "gm"),
        default="international",
        help="the federation's crypto profile: the algorithm of the keys",
    )
    parser.add_argument(
        "--test-federation",
        action="store_true",
        help="also create a test anchor and a signed registry.jws holding all of it",
    )
    parser.add_argument("--force", action="store_true", help="overwrite files already in DIR")
    parser.set_defaults(func=_cmd_onboard)
