"""A worked example of the registry entries concerns need (synthetic; tests and the demo).

:func:`add_concerns` puts into a registry being built: a concern desk in the responsible
region's catalogue (answering for every certificate and record type the catalogue lists), the
federation's deadlines (:func:`example_policy`), a use scenario letting the filing members
file to that region, and one letting the supervisor read the escalations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from deltafed.registry import RegistryBuilder
from deltafed.schemas.catalogue import Catalogue, UseScenario
from deltafed.schemas.concerns import ConcernPolicy
from deltafed.schemas.identifiers import parse_member_id

__all__ = [
    "SCENARIO_CONCERNS",
    "SCENARIO_SUPERVISION",
    "add_concerns",
    "example_policy",
]

#: Filing concerns with another region, and reading their history.
SCENARIO_CONCERNS: Final = "yrd-cross-region-concerns"
#: A supervisor reading the concerns escalated to it.
SCENARIO_SUPERVISION: Final = "yrd-concern-supervision"
_ALL: Final = ("objection", "question", "complaint")


def example_policy() -> ConcernPolicy:
    """Acknowledge within 1 working day; answer objections and questions within 3, complaints
    within 5 (an example, not a regulation)."""
    return ConcernPolicy.parse(
        {
            "deadlines": [
                {"category": "objection", "acknowledge_days": 1, "answer_days": 3},
                {"category": "question", "acknowledge_days": 1, "answer_days": 3},
                {"category": "complaint", "acknowledge_days": 1, "answer_days": 5},
            ]
        }
    )


def add_concerns(
    builder: RegistryBuilder,
    catalogue: Catalogue,
    *,
    desk: str,
    supervisor: str,
    filers: Sequence[str],
    categories: Sequence[str] = _ALL,
    policy: ConcernPolicy | None = None,
) -> RegistryBuilder:
    """Make ``desk`` answer ``catalogue``'s concerns, supervised by ``supervisor``, and let each
    of ``filers`` file ``categories`` to it (one scenario each; their ids end in ``-<n>``
    after the first)."""
    region = parse_member_id(desk).region
    entry = {
        "member": desk,
        "categories": list(_ALL),
        "certificate_types": [t.type_code for t in catalogue.certificate_types],
        "record_types": [t.code for t in catalogue.record_types],
        "procedures": ["kuasheng-tongban"],
        "supervisor": supervisor,
    }
    builder.set_catalogue(Catalogue.parse({**catalogue.to_wire(), "concern_desks": [entry]}))
    builder.set_concern_policy(policy if policy is not None else example_policy())
    common = {
        "legal_basis": "Synthetic test basis - not a real regulation",
        "providers": [region],
        "consent_required": False,
    }
    for index, filer in enumerate(filers):
        builder.add_scenario(
            UseScenario.parse(
                {
                    **common,
                    "id": SCENARIO_CONCERNS if index == 0 else f"{SCENARIO_CONCERNS}-{index}",
                    "name": "Cross-region concerns (异议、咨询、投诉)",
                    "service_matter": "长三角跨省通办 concern handling (test)",
                    "requester": filer,
                    "operations": ["concern.file", "concern.history"],
                    "concern_categories": list(categories),
                }
            ),
            replace=True,
        )
    builder.add_scenario(
        UseScenario.parse(
            {
                **common,
                "id": SCENARIO_SUPERVISION,
                "name": "Supervision of overdue concerns",
                "service_matter": "长三角跨省通办 supervision (test)",
                "requester": supervisor,
                "operations": ["concern.history", "concern.escalations"],
            }
        ),
        replace=True,
    )
    return builder
