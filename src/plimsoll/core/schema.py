"""The schema of one platform: every table its capabilities declare and where their migrations are.

Tables come from the descriptors (`Capability.tables`); the migrations of the platform's trunk live
in `core/migrations/versions`, and a capability may bring an Alembic branch of its own
(`Capability.migrations`). Alembic upgrades every branch to its head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData, Table

TRUNK_VERSIONS = Path(__file__).with_name("migrations") / "versions"


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...]
    version_locations: tuple[Path, ...] = (TRUNK_VERSIONS,)

    @classmethod
    def of(cls, tables: Sequence[Table], branches: Sequence[Path] = ()) -> Schema:
        return cls(tuple(tables), (TRUNK_VERSIONS, *branches))

    @property
    def metadatas(self) -> list[MetaData]:
        """The distinct MetaData objects the tables are declared on (Alembic compares each)."""
        found: list[MetaData] = []
        for table in self.tables:
            if all(table.metadata is not seen for seen in found):
                found.append(table.metadata)
        return found

    def sorted_tables(self) -> list[Table]:
        """Dependencies first (for creating); reverse it to empty them."""
        names = {table.key for table in self.tables}
        ordered = [t for metadata in self.metadatas for t in metadata.sorted_tables if t.key in names]
        return ordered
