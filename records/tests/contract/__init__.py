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
