from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.errors import SettingsError
from rag.settings import Settings


def test_groups_read_the_environment_with_overrides_on_top(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAG_TOP_K", "9")
    monkeypatch.setenv("RAG_LLM_BACKEND", "ollama")
    monkeypatch.setenv("RAG_PORT", "8123")
    settings = Settings.load(docs_dir=Path("elsewhere"), top_k=3)
    assert settings.retrieval.top_k == 3  # the override wins
    assert settings.llm.backend == "ollama" and settings.web.port == 8123
    assert settings.index.docs_dir == Path("elsewhere")
    assert Settings.load().retrieval.top_k == 9


def test_settings_are_frozen_and_replace_makes_a_copy() -> None:
    settings = Settings.load(top_k=4)
    with pytest.raises(ValidationError):
        settings.retrieval.top_k = 5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.retrieval = settings.retrieval  # type: ignore[misc]
    other = settings.replace(top_k=5, llm_max_tokens=10)
    assert (other.retrieval.top_k, other.llm.max_tokens) == (5, 10)
    assert settings.retrieval.top_k == 4 and other.index is settings.index


def test_an_invalid_value_names_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "lots")
    with pytest.raises(SettingsError, match="RAG_TOP_K"):
        Settings.load()
    monkeypatch.delenv("RAG_TOP_K")
    with pytest.raises(SettingsError, match="RAG_LLM_BACKEND"):
        Settings.load(llm_backend="gpt")
    with pytest.raises(SettingsError, match="RAG_EVIDENCE_K"):
        Settings.load().replace(evidence_k=0)
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        Settings.load(colour="red")


def test_flat_names_are_the_environment_names() -> None:
    flat = Settings.load().flat()
    assert {"docs_dir", "top_k", "rrf_k", "llm_backend", "llm_max_tokens", "port"} <= set(flat)
    assert len(flat) == len(set(flat))  # no name is in two groups
