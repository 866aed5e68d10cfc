"""The packaged MiniLM, two ways: sentence-transformers on torch (documents) and the same
weights evaluated in numpy (a few texts while torch is not loaded). They must agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.ingest.sentences import split_sentences
from rag.models.embedder import SMALL_BATCH, SentenceTransformerEmbedder
from rag.models.minilm import NumpyMiniLM
from rag.models.weights import embedding_model_path
from tests.conftest import ROOT, SEED_DOC, SEEDS

pytestmark = pytest.mark.slow


def test_numpy_encoder_matches_sentence_transformers() -> None:
    seed = (SEEDS / SEED_DOC).read_text(encoding="utf-8")
    texts = [s.text for s in split_sentences("seed", seed)]
    texts += ["Why were the drills suspended?", "x", "naïve café 東京 — 7th Fleet", seed[:3000]]
    path = embedding_model_path()
    ours = NumpyMiniLM(path).embed(texts)
    torch_side = SentenceTransformerEmbedder(str(path))
    theirs = torch_side.embed(texts)  # more than SMALL_BATCH texts: loads torch
    assert len(texts) > SMALL_BATCH and torch_side._model is not None
    assert ours.shape == theirs.shape == (len(texts), 384)
    np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_a_question_is_embedded_without_importing_torch() -> None:
    code = (
        "import sys; from rag.models.embedder import SentenceTransformerEmbedder as E; "
        "from rag.models.weights import embedding_model_path as p; "
        "v = E(str(p())).embed(['Why were the drills suspended?']); "
        "assert v.shape == (1, 384), v.shape; "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_an_incomplete_model_folder_falls_back_to_sentence_transformers(tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder(str(tmp_path / "missing"))
    assert embedder._numpy_model() is False  # no files: not the numpy path
