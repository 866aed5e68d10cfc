"""The packaged MiniLM, two ways: sentence-transformers on torch, and its ONNX export run by
onnxruntime (the default). They must agree, and an exported model must not need torch."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.ingest.sentences import split_sentences
from rag.models import onnx_encoder
from rag.models.embedder import SentenceTransformerEmbedder
from rag.models.weights import embedding_model_path
from tests.conftest import ROOT, SEED_DOC, SEEDS

pytestmark = pytest.mark.slow


def _texts() -> list[str]:
    seed = (SEEDS / SEED_DOC).read_text(encoding="utf-8")
    texts = [s.text for s in split_sentences("seed", seed)]
    # one token, accents and CJK, surrounding space, past 256 tokens
    return [
        *texts,
        "Why were the drills suspended?",
        "x",
        "naïve café 東京 — 7th Fleet",
        "  y \n",
        seed[:3000],
    ]


def test_onnx_export_matches_sentence_transformers(tmp_path: Path) -> None:
    path = str(embedding_model_path())
    texts = _texts()
    onnx = SentenceTransformerEmbedder(path, export_dir=tmp_path)
    ours = onnx.embed(texts)
    assert onnx._onnx, "the ONNX path was not taken"
    assert len(list(tmp_path.glob("embedder-*/model.onnx"))) == 1
    theirs = SentenceTransformerEmbedder(path, backend="torch").embed(texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    np.testing.assert_allclose(ours, theirs, atol=2e-5)
    one = onnx.embed([texts[3]])  # alone, unpadded, it is the same vector as in a batch
    np.testing.assert_allclose(one[0], ours[3], atol=2e-6)


def test_an_exported_model_embeds_without_importing_torch(tmp_path: Path) -> None:
    SentenceTransformerEmbedder(str(embedding_model_path()), export_dir=tmp_path).load()
    code = (
        "import sys; from pathlib import Path; "
        "from rag.models.embedder import SentenceTransformerEmbedder as E; "
        "from rag.models.weights import embedding_model_path as p; "
        f"v = E(str(p()), export_dir=Path({str(tmp_path)!r})).embed(['Why were they suspended?']); "
        "assert v.shape == (1, 384), v.shape; "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_a_changed_model_folder_is_exported_again(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    first = onnx_encoder.export_key(model)
    assert onnx_encoder.export_key(model) == first
    (model / "config.json").write_text('{"changed": 1}', encoding="utf-8")
    assert onnx_encoder.export_key(model) != first


def test_without_an_export_torch_encodes(tmp_path: Path) -> None:
    # a model folder without tokenizer.json cannot run on onnxruntime: sentence-transformers does
    embedder = SentenceTransformerEmbedder(str(tmp_path / "missing"), export_dir=tmp_path)
    assert embedder._onnx_encoder() is False
    assert not list(tmp_path.glob("embedder-*"))


def test_threads_asking_at_once_share_one_export(tmp_path: Path) -> None:
    # the chat's warm-up and a first question at once: one thread loads the model to export
    # it, and the other waits for the export instead of encoding on torch beside it
    askers: set[str] = set()

    class Recording(SentenceTransformerEmbedder):
        def _sentence_transformer(self) -> Any:
            askers.add(threading.current_thread().name)
            return super()._sentence_transformer()

    embedder = Recording(str(embedding_model_path()), export_dir=tmp_path)
    out: list[np.ndarray] = []
    threads = [
        threading.Thread(target=lambda t=t: out.append(embedder.embed([t])), name=t)
        for t in ("first question", "second question")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 2 and all(v.shape == (1, 384) for v in out)
    assert len(askers) == 1, f"torch loaded by {sorted(askers)}"
    assert [p.name for p in tmp_path.iterdir()] == [next(tmp_path.glob("embedder-*")).name]
