"""Contract-test cases: each record group's module defines CASES (a list of Case)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    prefix: str
    factory: type
    create: dict
    update: dict
    # (body field, factory of the related record) for a relation to another patient record
    relation: tuple[str, type] | None = None
    invalid: dict = field(default_factory=dict)
    # True when the relation is required: every create then names a record of the patient.
    relation_required: bool = False

    def body(self, patient, **extra) -> dict:
        """The create body for `patient`, with the required related record made for it."""
        body = dict(self.create)
        if self.relation_required:
            name, related_factory = self.relation
            body[name] = related_factory(patient=patient).pk
        return {**body, **extra}
