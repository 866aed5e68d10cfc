"""What a sync did: the report `rag ingest`, the chat and the eval print."""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.ingest.documents import Skipped


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unchanged: int = 0
    resumed: int = 0  # documents an interrupted sync had begun, finished by this one
    sentences: int = 0
    chunks: int = 0
    embedded: int = 0  # texts embedded by this sync; 0 when nothing changed
    rebuilt: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"documents: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.removed)} removed, {self.unchanged} unchanged, "
            f"{len(self.skipped)} skipped"
            + (f", {self.resumed} resumed" if self.resumed else "")
            + f"; {self.sentences} sentences, {self.chunks} chunks; "
            f"{self.embedded} texts embedded{' (rebuilt)' if self.rebuilt else ''}; "
            f"{self.seconds:.2f} s"
        )
