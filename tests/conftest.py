from __future__ import annotations

from pathlib import Path

import pytest

from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SQUAD_DOCS = ROOT.parent / "shared" / "eval-data" / "squad2-dev-open15" / "docs"
SEED_DOC = "000_2229a254bb7e8488.txt"


@pytest.fixture
def fake_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """For tests of the CLI and eval runner: the deterministic fake embedder wherever the
    embedder factory is called, the extractive writer, a private cache. Returns an empty docs
    folder."""
    import rag.engine
    import rag.models.embedder
    from tests.fakes import HashingEmbedder

    docs = tmp_path / "docs"
    docs.mkdir()
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RAG_ANSWERER", "extractive")
    fake = HashingEmbedder()
    monkeypatch.setattr(rag.models.embedder, "make_embedder", lambda settings: fake)
    monkeypatch.setattr(rag.engine, "make_embedder", lambda settings: fake)
    return docs


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    return Settings.load(docs_dir=docs, cache_dir=tmp_path / "cache", answerer="extractive")


@pytest.fixture(autouse=True)
def _rules_condense_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Follow-ups are rewritten by rule unless a test asks for an LLM: the real one must not
    load behind a fast test's back. Tests of the LLM condense step pass their own settings."""
    monkeypatch.setenv("RAG_CONDENSE", "rules")
