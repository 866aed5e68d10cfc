"""A sentence-transformers model run by onnxruntime: exported once from the model itself
(torch.onnx, its own modules: transformer, pooling, normalisation), kept under the cache, then
run with the model's own tokenizer. It computes what `SentenceTransformer.encode`
computes, to float32 rounding (tests/test_embedder.py compares the two).

Why: on a 2-core CPU it embeds a question in about 3-5 ms against 12-50 ms for
sentence-transformers on torch, and documents about 2x faster (bench/bench_core.py); and once
exported, no process imports torch (about 15 s on such a machine) to embed anything.
sentence-transformers' own `backend="onnx"` needs optimum-onnx, which does not install beside
the transformers release sentence-transformers 6.2 needs, so the export is ours.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the exported graph changes: older files are exported again
TOKEN_INPUTS = {"input_ids", "attention_mask", "token_type_ids"}


def export_key(model_dir: Path) -> str:
    """Names the export of this model folder: its files' names, sizes and times (a changed or
    replaced model is exported again; an unchanged one is only `stat`ed)."""
    stats = sorted((p, p.stat()) for p in model_dir.rglob("*") if p.is_file())
    listing = [(str(p.relative_to(model_dir)), st.st_size, st.st_mtime_ns) for p, st in stats]
    blob = json.dumps([EXPORT_VERSION, str(model_dir.resolve()), listing]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def export(model: Any, target: Path) -> None:
    """Write `model` (a loaded SentenceTransformer) to the folder `target`: `model.onnx`, the
    graph; `tokenizer.json`, the very tokenizer it uses (its lower-casing included); and
    `export.json`, what tokenising needs. The folder appears whole or not at all (written
    aside, then renamed), so a crash or a second process never sees half an export."""
    import torch

    sample = model.preprocess(["an example sentence", "another, longer example sentence"])
    # the tensors the model's own tokenizer gives are the graph's inputs; the rest (a modality
    # name) are constants of the graph
    names = [n for n, v in sample.items() if isinstance(v, torch.Tensor)]
    fixed = {n: v for n, v in sample.items() if n not in names}

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            features = {**fixed, **dict(zip(names, inputs, strict=True))}
            return self.model(features)["sentence_embedding"]

    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    part = target.with_name(f"{target.name}.{os.getpid()}.part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on ops it translated
        torch.onnx.export(
            Graph().eval(),
            tuple(sample[n] for n in names),
            str(part / "model.onnx"),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    tokenizer = model.tokenizer
    tokenizer.backend_tokenizer.save(str(part / "tokenizer.json"))
    meta = {
        "inputs": names,
        "max_seq_length": int(model.max_seq_length),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "dim": dimension(model),
    }
    (part / "export.json").write_text(json.dumps(meta), encoding="utf-8")
    try:
        os.replace(part, target)
    except OSError:  # another process's export landed first: it is the same
        shutil.rmtree(part, ignore_errors=True)
        if not exported(target):
            raise


def dimension(model: Any) -> int:
    """A SentenceTransformer's vector size (the method was renamed in sentence-transformers 6)."""
    size = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(size() or 0)


def exported(target: Path) -> bool:
    return (target / "export.json").is_file()


class OnnxEncoder:
    """Runs an export (see `export`) with onnxruntime; thread-safe, like its session."""

    def __init__(self, target: Path, batch_size: int = 64):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((target / "export.json").read_text(encoding="utf-8"))
        self.inputs: list[str] = meta["inputs"]
        if not set(self.inputs) <= TOKEN_INPUTS:
            raise ValueError(f"the model takes inputs a tokenizer alone cannot give: {self.inputs}")
        self.dim = int(meta["dim"])
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(target / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(meta["max_seq_length"]))
        self.tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=meta["pad_token"])
        options = ort.SessionOptions()
        # Threads that spin while idle steal the core the LLM or another request is using
        # (the same reason torch runs with OMP_WAIT_POLICY=PASSIVE).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(target / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text; texts of like length are batched
        together, so that little padding is computed."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for at in range(0, len(order), self.batch_size):
            rows = order[at : at + self.batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            given = {
                "input_ids": [e.ids for e in encodings],
                "attention_mask": [e.attention_mask for e in encodings],
                "token_type_ids": [e.type_ids for e in encodings],
            }
            feed = {n: np.asarray(given[n], dtype=np.int64) for n in self.inputs}
            (vectors,) = self.session.run(None, feed)
            out[rows] = vectors
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.maximum(norms, 1e-12), dtype=np.float32)
