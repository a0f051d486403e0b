"""Policy: default-deny decisions over the verified registry, and signed consents.

:class:`PolicyEngine` decides whether a verified request may be answered and returns a
:class:`Decision` naming exactly the fields to release; consents travel as compact JWS built
with :func:`sign_consent` and checked with :func:`verify_consent`. See ``docs/node.md``.
"""

from deltafed.policy._consent import CONSENT_TYP, consent_payload, sign_consent, verify_consent
from deltafed.policy._engine import Decision, PolicyEngine, PolicyRequest, ScenarioSource

__all__ = [
    "CONSENT_TYP",
    "Decision",
    "PolicyEngine",
    "PolicyRequest",
    "ScenarioSource",
    "consent_payload",
    "sign_consent",
    "verify_consent",
]
