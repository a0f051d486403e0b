"""The OpenAPI 3.1 description a node serves at ``/deltafed/v1/openapi.json``.

The message bodies are described by the JSON Schemas of the wire models themselves, so the
document cannot drift from what the node validates. Requests and responses travel as compact
JWS strings; their decoded payloads are described under ``x-deltafed-payload``.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, ConfigDict

from deltafed.node._http import (
    HEALTH_PATH,
    JSON_TYPE,
    METADATA_MEDIA_TYPE,
    METADATA_PATH,
    OPENAPI_PATH,
    OPERATION_PATHS,
    REQUEST_MEDIA_TYPE,
    RESPONSE_MEDIA_TYPE,
)
from deltafed.protocol import RequestClaims, ResponseClaims
from deltafed.schemas.concerns import Concern, ConcernHistory, EscalationList, HistoryQuery
from deltafed.schemas.events import (
    ChangeEvent,
    EventAck,
    Subscription,
    SubscriptionCancel,
    SubscriptionList,
    SubscriptionListQuery,
    SubscriptionRequest,
)
from deltafed.schemas.matching import MatchAnswer, MatchQuestion
from deltafed.schemas.messages import (
    RecordRequest,
    RecordResponse,
    ReleaseRequest,
    ReleaseResult,
    VerificationRequest,
    VerificationResult,
)
from deltafed.schemas.problem import Problem

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"


class EmptyBody(BaseModel):
    """An empty JSON object."""

    model_config = ConfigDict(extra="forbid")


_COMPACT_JWS = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"

_OPERATIONS: dict[str, tuple[str, type[BaseModel], type[BaseModel]]] = {
    "certificate.verify": (
        "Verify a certificate: valid or not, status, validity window, a minimal summary",
        VerificationRequest,
        VerificationResult,
    ),
    "certificate.release": (
        "Release the fields of a certificate that the cited scenario allows",
        ReleaseRequest,
        ReleaseResult,
    ),
    "record.request": (
        "Release the fields of a record (household registration, social insurance...)",
        RecordRequest,
        RecordResponse,
    ),
    "concern.file": (
        "File a resident's or company's concern with the region responsible for its subject",
        Concern,
        ConcernHistory,
    ),
    "concern.history": (
        "The signed history of a concern (to its filer, or its supervisor once escalated)",
        HistoryQuery,
        ConcernHistory,
    ),
    "concern.escalations": (
        "The histories of the concerns escalated to the asking supervisor",
        EmptyBody,
        EscalationList,
    ),
    "match.ask": (
        "Ask a predicate (yes/no) or a count the cited scenario names; no data is released",
        MatchQuestion,
        MatchAnswer,
    ),
    "subscription.create": (
        "Subscribe to changes about a subject the cited scenario allows (proactive services)",
        SubscriptionRequest,
        Subscription,
    ),
    "subscription.list": (
        "List the requester's subscriptions under the cited scenario",
        SubscriptionListQuery,
        SubscriptionList,
    ),
    "subscription.cancel": (
        "Cancel one of the requester's subscriptions",
        SubscriptionCancel,
        SubscriptionCancel,
    ),
    "event.deliver": (
        "Deliver a change event to a subscriber (what changed and about whom, no data)",
        ChangeEvent,
        EventAck,
    ),
}


def _components() -> dict[str, Any]:
    models: list[type[BaseModel]] = [RequestClaims, ResponseClaims, Problem]
    for _, request, result in _OPERATIONS.values():
        models.extend((request, result))
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=_REF, mode="validation")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _jws(description: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": {
            "type": "string",
            "pattern": _COMPACT_JWS,
            "description": description,
            "x-deltafed-payload": payload,
        }
    }


def _exchange(operation: str) -> dict[str, Any]:
    summary, request, result = _OPERATIONS[operation]
    ref = {"$ref": _REF.format(model="ResponseClaims")}
    response = _jws(
        "A signed response (compact JWS); its body is the result when sts is ok, "
        "a Problem when sts is problem.",
        {"claims": ref, "body": {"$ref": _REF.format(model=result.__name__)}},
    )
    problem = _jws(
        "A signed response with sts problem; its body is a Problem.",
        {"claims": ref, "body": {"$ref": _REF.format(model="Problem")}},
    )
    responses: dict[str, Any] = {"200": {"description": "Answered", "content": {}}}
    responses["200"]["content"][RESPONSE_MEDIA_TYPE] = response
    for status, why in (
        ("400", "Malformed or invalid request"),
        ("401", "Signature, key, audience or time window refused"),
        ("403", "Refused by policy (scenario, requester, field, consent)"),
        ("404", "No such certificate or record"),
        ("409", "Replayed message id"),
        ("413", "Request too large"),
        ("500", "Internal error (nothing more is disclosed)"),
        ("502", "The province platform failed"),
        ("503", "The province platform is unavailable; retry the identical request"),
        ("504", "The province platform timed out; retry the identical request"),
    ):
        responses[status] = {"description": why, "content": {RESPONSE_MEDIA_TYPE: problem}}
    return {
        "post": {
            "operationId": operation.replace(".", "_"),
            "summary": summary,
            "requestBody": {
                "required": True,
                "content": {
                    REQUEST_MEDIA_TYPE: _jws(
                        f"A signed request (compact JWS) with op {operation}.",
                        {
                            "claims": {"$ref": _REF.format(model="RequestClaims")},
                            "body": {"$ref": _REF.format(model=request.__name__)},
                        },
                    )
                },
            },
            "responses": responses,
        }
    }


@functools.lru_cache(maxsize=8)
def _document(member: str) -> dict[str, Any]:
    paths: dict[str, Any] = {path: _exchange(op) for op, path in OPERATION_PATHS.items()}
    paths[METADATA_PATH] = {
        "get": {
            "operationId": "metadata",
            "summary": "Signed node metadata: member, keys, offer, protocol versions",
            "responses": {
                "200": {
                    "description": "A compact JWS of typ deltafed-metadata+jws",
                    "content": {METADATA_MEDIA_TYPE: {"schema": {"type": "string"}}},
                }
            },
        }
    }
    paths[HEALTH_PATH] = {
        "get": {
            "operationId": "health",
            "summary": "Liveness and registry freshness (unsigned)",
            "responses": {
                "200": {"description": "Serving", "content": {JSON_TYPE: {}}},
                "503": {"description": "Registry expired: not serving", "content": {JSON_TYPE: {}}},
            },
        }
    }
    paths[OPENAPI_PATH] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON_TYPE: {}}}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"deltafed node {member}",
            "version": "1",
            "description": "The HTTP binding of the deltafed exchange protocol "
            "(docs/protocol.md). Every exchange answer is a signed response.",
        },
        "paths": paths,
        "components": {"schemas": _components()},
    }


def openapi_document(member: str) -> dict[str, Any]:
    """The OpenAPI document of a node serving ``member`` (a fresh copy each call)."""
    import copy

    return copy.deepcopy(_document(str(member)))
