"""Export the JSON Schema of every public wire model, one file per model.

:data:`EXPORTED_MODELS` names the models as ``"module:ClassName"`` strings, resolved only when
exporting, so that a higher layer can add its models here without the schemas package
importing it. The files are ``<ClassName>.schema.json``: sorted keys, 2-space indent, UTF-8,
trailing newline, so they diff well and a check can compare them byte for byte.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Final

from pydantic import BaseModel

from deltafed._errors import ConfigurationError

__all__ = [
    "EXPORTED_MODELS",
    "SCHEMA_SUFFIX",
    "check_json_schemas",
    "export_json_schemas",
    "exported_models",
    "render_json_schema",
]

#: Every model whose schema is published, as ``"module:ClassName"``. Add one line per model.
EXPORTED_MODELS: tuple[str, ...] = (
    "deltafed.registry:RegistryDocument",
    "deltafed.schemas.audit:AuditEntry",
    "deltafed.schemas.catalogue:Catalogue",
    "deltafed.schemas.catalogue:CertificateType",
    "deltafed.schemas.catalogue:FieldSpec",
    "deltafed.schemas.catalogue:RecordType",
    "deltafed.schemas.catalogue:ScenarioList",
    "deltafed.schemas.catalogue:UseScenario",
    "deltafed.schemas.certificates:CertificateMetadata",
    "deltafed.schemas.concerns:Concern",
    "deltafed.schemas.concerns:ConcernEvent",
    "deltafed.schemas.concerns:ConcernHistory",
    "deltafed.schemas.concerns:ConcernPolicy",
    "deltafed.schemas.concerns:EscalationList",
    "deltafed.schemas.concerns:HistoryQuery",
    "deltafed.schemas.consent:Consent",
    "deltafed.schemas.events:ChangeEvent",
    "deltafed.schemas.events:EventAck",
    "deltafed.schemas.events:Subscription",
    "deltafed.schemas.events:SubscriptionCancel",
    "deltafed.schemas.events:SubscriptionList",
    "deltafed.schemas.events:SubscriptionListQuery",
    "deltafed.schemas.events:SubscriptionRequest",
    "deltafed.schemas.matching:Aggregate",
    "deltafed.schemas.matching:MatchAnswer",
    "deltafed.schemas.matching:MatchQuestion",
    "deltafed.schemas.matching:Predicate",
    "deltafed.schemas.matching:RateLimit",
    "deltafed.schemas.messages:RecordRequest",
    "deltafed.schemas.messages:RecordResponse",
    "deltafed.schemas.messages:ReleaseRequest",
    "deltafed.schemas.messages:ReleaseResult",
    "deltafed.schemas.messages:VerificationRequest",
    "deltafed.schemas.messages:VerificationResult",
    "deltafed.schemas.problem:Problem",
)

#: File name suffix of an exported schema.
SCHEMA_SUFFIX: Final = ".schema.json"


def exported_models() -> list[type[BaseModel]]:
    """The classes :data:`EXPORTED_MODELS` names, checked to be models with unique names."""
    models: list[type[BaseModel]] = []
    names: set[str] = set()
    for spec in EXPORTED_MODELS:
        module_name, _, class_name = spec.partition(":")
        try:
            model = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError(f"cannot load exported model {spec}: {exc}") from exc
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigurationError(f"exported model {spec} is not a pydantic model")
        if model.__name__ in names:
            raise ConfigurationError(f"two exported models are named {model.__name__}")
        names.add(model.__name__)
        models.append(model)
    return models


def render_json_schema(model: type[BaseModel]) -> str:
    """The exact text of ``model``'s schema file."""
    schema = model.model_json_schema(mode="validation")
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _rendered() -> dict[str, str]:
    return {m.__name__ + SCHEMA_SUFFIX: render_json_schema(m) for m in exported_models()}


def export_json_schemas(directory: str | Path) -> list[Path]:
    """Write every exported model's schema into ``directory``; return the paths, sorted."""
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for name, text in sorted(_rendered().items()):
            path = target / name
            path.write_text(text, encoding="utf-8", newline="\n")
            written.append(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot write schemas into {target}: {exc}") from exc
    return written


def check_json_schemas(directory: str | Path) -> list[str]:
    """File names in ``directory`` that differ from the code: changed, missing or stale.

    Each entry is ``"<name>: <why>"``; an empty list means the files are up to date.
    """
    target = Path(directory)
    expected = _rendered()
    problems: list[str] = []
    for name, text in sorted(expected.items()):
        path = target / name
        try:
            current = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            problems.append(f"{name}: missing")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{name}: unreadable ({exc})")
            continue
        if current != text:
            problems.append(f"{name}: differs from the code")
    if target.is_dir():
        for path in sorted(target.glob("*" + SCHEMA_SUFFIX)):
            if path.name not in expected:
                problems.append(f"{path.name}: stale (no exported model has this name)")
    return problems
