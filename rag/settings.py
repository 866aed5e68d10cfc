"""The one settings object, grouped by what each part owns. Built only at the edges (the CLI,
app.py, the eval runner) with `Settings.load(...)`, then passed down; frozen, so nothing can
change it behind another part's back. What varies per request (the answer writer, the number
of passages) is passed per call instead.

Every field is an environment variable: `RAG_` + its flat name, e.g. RAG_DOCS_DIR, RAG_TOP_K,
RAG_LLM_BACKEND (the LLM group's fields carry the `llm_` prefix). The flat name is also what
`Settings.load(**overrides)` and `Settings.replace(**changes)` take.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import SettingsError


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag"


class IndexSettings(BaseSettings):
    """Where documents and their index live, and how they are cut and embedded. Changing the
    embedder or the chunking rebuilds the index."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", frozen=True)
    docs_dir: Path = Path("seeds")
    index_dir: Path | None = Field(
        default=None, description="Index folder; default: one per docs folder under cache_dir."
    )
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    chroma_host: str | None = None  # unset: the embedded PersistentClient in the index folder
    chroma_port: int = 8000
    embed_model_path: Path | None = Field(
        default=None, description="A sentence-transformers model folder; default: all-MiniLM-L6-v2."
    )
    embed_batch_size: int = 64
    embed_backend: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="onnx: the model exported once to ONNX (under cache_dir/models) and run by "
        "onnxruntime; torch: sentence-transformers on torch. Same vectors.",
    )
    chunk_max_chars: int = 480
    chunk_overlap_sentences: int = 1
    refresh_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How often a running app checks the store for documents another process "
        "indexed (a replica on the same Chroma server, or `rag ingest`).",
    )

    def resolved_index_dir(self) -> Path:
        """The index folder: explicit, or one per absolute docs path so folders never share."""
        if self.index_dir is not None:
            return self.index_dir
        docs = self.docs_dir.resolve()
        digest = hashlib.sha256(str(docs).encode()).hexdigest()[:12]
        return self.cache_dir / "index" / f"{docs.name or 'docs'}-{digest}"


class RetrievalSettings(BaseSettings):
    """Hybrid retrieval, evidence scoring and the refusal rule: each moves an eval number."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", frozen=True)
    top_k: int = Field(default=6, ge=1, le=50, description="Chunks kept after fusion.")
    candidates: int = Field(default=20, ge=1, description="Chunks each ranker proposes.")
    rrf_k: float = Field(default=60.0, gt=0, description="Reciprocal rank fusion constant.")
    evidence_k: int = Field(default=4, ge=1, le=20, description="Evidence sentences passed on.")
    weight_dense: float = 0.45  # evidence score = weights . (cosine, keyword coverage, type)
    weight_lexical: float = 0.4
    weight_type: float = 0.15
    previous_sentence_weight: float = Field(
        default=0.5, description="Keyword coverage credited from the sentence before."
    )
    min_evidence_score: float = Field(
        default=0.2, description="Below this the best evidence does not answer: refuse."
    )
    answerability: Literal["model", "rules"] = Field(
        default="model",
        description="Who decides to refuse: the calibrated model (rag/search/answerability.json, "
        "with a low-confidence band) or the rules alone.",
    )
    reader: Literal["model", "off"] = Field(
        default="off",
        description="model: the packaged reader (a cross-encoder) reads the best evidence "
        "sentences against the question, reranks them, informs answerability and checks each "
        "claim's citation; off (the default: on the test sets it does not yet measure better): "
        "the evidence score alone, and the answerability model fitted without the reader.",
    )
    reader_depth: int = Field(
        default=8,
        ge=1,
        le=60,
        description="Evidence sentences (best by the evidence score) the reader reads.",
    )
    reader_evidence_weight: float = Field(
        default=10.0,
        ge=0,
        description="What the reader reads is ordered by logit(its P) + this x the evidence "
        "score (fitted on held-out calibration questions by eval/fit_reranker.py).",
    )
    max_question_chars: int = 500


class AnswerSettings(BaseSettings):
    """Answer writing and the citation support check."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", frozen=True)
    answerer: Literal["auto", "llm", "extractive"] = "auto"
    second_sentence_margin: float = Field(
        default=0.08, description="The extractive answer adds the runner-up within this margin."
    )
    support_min_coverage: float = 0.75  # share of a claim's new words the cited text must hold
    support_min_similarity: float = 0.6  # or: this cosine with a cited sentence ...
    support_similarity_slack: float = 0.25  # ... and coverage at least min_coverage - slack
    support_anywhere_coverage: float = 0.34  # below this in all evidence, a claim is invented
    support_min_reader: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="A claim's cited sentences must answer the question by the reader with "
        "at least this probability (with RAG_READER=model).",
    )


class LLMSettings(BaseSettings):
    """The local LLM (or a server) that writes answers."""

    model_config = SettingsConfigDict(env_prefix="RAG_LLM_", extra="ignore", frozen=True)
    backend: Literal["llama_cpp", "openai", "ollama"] = "llama_cpp"
    model_path: Path | None = Field(
        default=None, description="A GGUF file to use instead of the packaged Qwen2.5 model."
    )
    base_url: str | None = None  # openai-compatible server or ollama
    model: str = "qwen2.5-coder-1.5b-instruct"
    api_key: str = "not-needed"
    threads: int = Field(default_factory=lambda: max(1, min(4, os.cpu_count() or 2)))
    context: int = 2048
    max_tokens: int = 120
    timeout_s: float = 60.0
    evidence_k: int = Field(
        default=2,
        ge=1,
        le=20,
        description="Evidence sentences shown to the LLM when the corpus is too big to show "
        "whole: each costs the CPU about 1.5 s to read on 2 cores.",
    )
    prompt_corpus_max_chars: int = Field(
        default=6000,
        description="A corpus whose sentences fit in this many characters is shown whole to the "
        "LLM, as a prompt prefix it keeps cached; 0 to always show only the retrieved evidence.",
    )


class ChatSettings(BaseSettings):
    """Conversations: how a follow-up is made to stand alone before retrieval."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", frozen=True)
    condense: Literal["auto", "llm", "rules"] = Field(
        default="auto",
        description="Who rewrites a follow-up: the LLM (auto: when it is installed), or rules.",
    )
    condense_turns: int = Field(default=2, ge=1, description="Earlier turns the rewrite sees.")
    condense_answer_words: int = Field(
        default=30, ge=0, description="Words of each earlier answer the rewrite sees."
    )
    condense_max_tokens: int = Field(default=40, ge=8)
    memory_words: int = Field(default=2000, ge=50, description="A conversation's memory size.")


class WebSettings(BaseSettings):
    """The chat page."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", frozen=True)
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = Field(default=None, description="user:password, required off loopback.")
    allow_unauthenticated: bool = False
    max_upload_bytes: int = 2_000_000


_GROUPS: dict[str, type[BaseSettings]] = {
    "index": IndexSettings,
    "retrieval": RetrievalSettings,
    "answer": AnswerSettings,
    "llm": LLMSettings,
    "chat": ChatSettings,
    "web": WebSettings,
}


def _flat_prefix(group: type[BaseSettings]) -> str:
    return str(group.model_config.get("env_prefix", "RAG_")).removeprefix("RAG_").lower()


def _route(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Flat names ("docs_dir", "llm_backend") to {group: {field: value}}."""
    routed: dict[str, dict[str, Any]] = {name: {} for name in _GROUPS}
    for key, value in values.items():
        for name, group in _GROUPS.items():
            prefix = _flat_prefix(group)
            field = key.removeprefix(prefix) if key.startswith(prefix) else None
            if field in group.model_fields:
                routed[name][field] = value
                break
        else:
            raise SettingsError(f"unknown setting {key!r}")
    return routed


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: IndexSettings
    retrieval: RetrievalSettings
    answer: AnswerSettings
    llm: LLMSettings
    chat: ChatSettings
    web: WebSettings

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """The environment (RAG_*) with `overrides` (flat names) on top. An invalid value raises
        SettingsError naming its environment variable."""
        groups: dict[str, Any] = {}
        for name, fields in _route(overrides).items():
            group = _GROUPS[name]
            try:
                groups[name] = group(**fields)
            except ValidationError as exc:
                raise _settings_error(group, exc) from exc
        return cls(**groups)

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` (flat names) applied and validated; this one is unchanged."""
        groups: dict[str, Any] = {}
        for name, fields in _route(changes).items():
            current: BaseModel = getattr(self, name)
            if not fields:
                groups[name] = current
                continue
            try:
                groups[name] = type(current).model_validate({**current.model_dump(), **fields})
            except ValidationError as exc:
                raise _settings_error(type(current), exc) from exc  # type: ignore[arg-type]
        return Settings(**groups)

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name (for reports)."""
        out: dict[str, Any] = {}
        for name, group in _GROUPS.items():
            prefix = _flat_prefix(group)
            for field, value in getattr(self, name).model_dump().items():
                out[prefix + field] = value
        return out


def _settings_error(group: type[BaseSettings], exc: ValidationError) -> SettingsError:
    prefix = str(group.model_config.get("env_prefix", "RAG_"))
    first = exc.errors()[0]
    names = ", ".join(prefix + "_".join(map(str, e["loc"])).upper() for e in exc.errors())
    return SettingsError(f"invalid setting {names}: {first['msg']}")
