"""The identities of the models behind an eval run, for its report: which embedder (and the
package carrying its weights), which LLM (its name, and the GGUF file's sha256)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rag.eval.paths import portable_path
from rag.settings import Settings

log = logging.getLogger(__name__)


def embedder_identity(settings: Settings, name: str) -> dict[str, Any]:
    """The embedder's name, and the package that carries its weights when it is the default."""
    from importlib.metadata import PackageNotFoundError, version

    from rag.models.weights import EMBEDDING_PACKAGE

    identity: dict[str, Any] = {"name": name}
    if settings.index.embed_model_path is None:
        try:
            identity["package"] = f"{EMBEDDING_PACKAGE}=={version(EMBEDDING_PACKAGE)}"
        except PackageNotFoundError:
            identity["package"] = EMBEDDING_PACKAGE
    else:
        identity["path"] = portable_path(settings.index.embed_model_path)
    return identity


def llm_identity(settings: Settings, writer: Any = None) -> dict[str, Any]:
    """The LLM's backend and name (as the writer's loaded LLM gives it), and for llama.cpp the
    GGUF file's name and sha256."""
    from rag.models.weights import GGUF_NAME, GGUF_SHA256, sha256_file

    identity: dict[str, Any] = {"backend": settings.llm.backend}
    try:  # the writer's LLM (rag.models.llm.LLM) names itself; it is loaded by now
        name = getattr(getattr(writer, "llm", None), "name", None)
        if name:
            identity["name"] = str(name)
    except Exception as exc:  # reaching the LLM may need a model that failed to load
        log.warning("the report cannot name the LLM: %s", exc)
    if settings.llm.backend == "llama_cpp":
        if settings.llm.model_path is None:
            identity.update(gguf=GGUF_NAME, sha256=GGUF_SHA256)
        elif Path(settings.llm.model_path).is_file():
            path = Path(settings.llm.model_path)
            identity.update(gguf=path.name, sha256=sha256_file(path))
    else:
        identity["model"] = settings.llm.model
    return identity


def answerability_identity(settings: Settings) -> dict[str, Any]:
    """Who decides to refuse; for the calibrated model, its file's sha256 and what it was
    fitted on (eval/train_answerability.py)."""
    import hashlib
    import json

    from rag.models.weights import answerability_json

    mode = settings.retrieval.answerability
    if mode == "rules":
        return {"mode": mode}
    data = answerability_json(settings.retrieval.reader)
    fitted_on = json.loads(data).get("fitted_on", {})
    return {"mode": mode, "sha256": hashlib.sha256(data).hexdigest(), "fitted_on": fitted_on}


def reader_identity(settings: Settings) -> dict[str, Any]:
    """The reader model's file sha256 and how it was made (rag/models/reader/reader.json)."""
    if settings.retrieval.reader == "off":
        return {"mode": "off"}
    import hashlib
    import json

    from rag.models.reader import FOLDER

    meta = json.loads((FOLDER / "reader.json").read_text(encoding="utf-8"))
    return {
        "mode": "model",
        "sha256": hashlib.sha256((FOLDER / "reader.onnx").read_bytes()).hexdigest(),
        "layers": meta.get("layers"),
        "trained_on": meta.get("trained_on"),
        "onnx_int8": meta.get("onnx_int8"),
        "depth": settings.retrieval.reader_depth,
    }
