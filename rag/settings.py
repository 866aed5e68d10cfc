"""The one settings object. Built only at the edges (CLI, app.py, eval runner) and passed down.

Every field can be set from the environment with the prefix RAG_ (RAG_DOCS_DIR, RAG_ANSWERER, ...).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    # where the documents are and where their index lives
    docs_dir: Path = Path("seeds")
    index_dir: Path | None = Field(
        default=None, description="Index folder; default: one per docs folder under cache_dir."
    )
    cache_dir: Path = Field(default_factory=_default_cache_dir)

    # Chroma: embedded PersistentClient in the index folder, or a server when chroma_host is set
    chroma_host: str | None = None
    chroma_port: int = 8000

    # embeddings (changing the model rebuilds the index)
    embed_model_path: Path | None = Field(
        default=None, description="A sentence-transformers model folder; default: all-MiniLM-L6-v2."
    )
    embed_batch_size: int = 64

    # segmentation and chunking (changing these rebuilds the index)
    chunk_max_chars: int = 480
    chunk_overlap_sentences: int = 1

    # retrieval and evidence
    top_k: int = Field(default=6, ge=1, le=50, description="Chunks kept after fusion.")
    evidence_k: int = Field(default=4, ge=1, le=20, description="Evidence sentences passed on.")
    min_evidence_score: float = Field(
        default=0.2, description="Below this the best evidence does not answer: refuse."
    )

    # answering
    answerer: Literal["auto", "llm", "extractive"] = "auto"
    max_question_chars: int = 500

    # LLM backends
    llm_backend: Literal["llama_cpp", "openai", "ollama"] = "llama_cpp"
    llm_model_path: Path | None = Field(
        default=None, description="A GGUF file to use instead of the packaged Qwen2.5 model."
    )
    llm_base_url: str | None = None  # openai-compatible server or ollama
    llm_model: str = "qwen2.5-coder-1.5b-instruct"
    llm_api_key: str = "not-needed"
    llm_threads: int = Field(default_factory=lambda: max(1, min(4, os.cpu_count() or 2)))
    llm_context: int = 2048
    llm_max_tokens: int = 120
    llm_timeout_s: float = 60.0
    llm_prompt_corpus_max_chars: int = Field(
        default=6000,
        description="A corpus whose sentences fit in this many characters is shown whole to the "
        "LLM, as a prompt prefix it keeps cached; 0 to always show only the retrieved evidence.",
    )

    # chat UI
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = Field(default=None, description="user:password, required off loopback.")
    allow_unauthenticated: bool = False
    max_upload_bytes: int = 2_000_000

    def resolved_index_dir(self) -> Path:
        """The index folder: explicit, or one per absolute docs path so folders never share."""
        if self.index_dir is not None:
            return self.index_dir
        docs = self.docs_dir.resolve()
        digest = hashlib.sha256(str(docs).encode()).hexdigest()[:12]
        return self.cache_dir / "index" / f"{docs.name or 'docs'}-{digest}"
