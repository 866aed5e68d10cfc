from __future__ import annotations

from pathlib import Path

import pytest

from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SQUAD_DOCS = ROOT.parent / "shared" / "eval-data" / "squad2-dev-open15" / "docs"
SEED_DOC = "000_2229a254bb7e8488.txt"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    return Settings(docs_dir=docs, cache_dir=tmp_path / "cache", answerer="extractive")
