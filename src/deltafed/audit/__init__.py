"""The tamper-evident audit log: evidence of every exchange, and what residents see of it.

* :class:`AuditLog` - ``record`` an exchange durably before its answer is released; signed
  ``checkpoint`` tree heads; ``prove`` inclusion and ``prove_consistency`` between tree heads;
  the ``subject_view`` of a resident; ``export``.
* :func:`verify_log` - recompute and check a whole log and its checkpoints.
* :class:`AuditStore` - the storage interface; :class:`SqliteAuditStore` (the default),
  :class:`PostgresAuditStore` (many workers and hosts; the ``postgres`` extra),
  :class:`MemoryAuditStore`; :func:`open_audit_store` picks one from a path or URL.

See ``docs/audit.md``.
"""

from deltafed.audit._checkpoint import (
    CHECKPOINT_TYPE,
    Checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from deltafed.audit._log import (
    MAX_EVIDENCE_BYTES,
    AccessRecord,
    AuditLog,
    ConsistencyProof,
    InclusionProof,
    subject_ref,
    verify_consistency_proof,
    verify_export,
    verify_inclusion_proof,
    write_export,
)
from deltafed.audit._open import open_audit_store
from deltafed.audit._pgstore import PostgresAuditStore
from deltafed.audit._store import (
    AppendRecord,
    AuditStore,
    MemoryAuditStore,
    SqliteAuditStore,
    StoredRecord,
)
from deltafed.audit._verify import (
    GENESIS_HASH,
    IntegrityFailure,
    IntegrityFailureKind,
    VerificationReport,
    verify_log,
)

__all__ = [
    "CHECKPOINT_TYPE",
    "GENESIS_HASH",
    "MAX_EVIDENCE_BYTES",
    "AccessRecord",
    "AppendRecord",
    "AuditLog",
    "AuditStore",
    "Checkpoint",
    "ConsistencyProof",
    "InclusionProof",
    "IntegrityFailure",
    "IntegrityFailureKind",
    "MemoryAuditStore",
    "PostgresAuditStore",
    "SqliteAuditStore",
    "StoredRecord",
    "VerificationReport",
    "open_audit_store",
    "parse_checkpoint",
    "sign_checkpoint",
    "subject_ref",
    "verify_consistency_proof",
    "verify_export",
    "verify_inclusion_proof",
    "verify_log",
    "write_export",
]
