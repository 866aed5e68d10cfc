"""The reader: a small cross-encoder that reads a question against a candidate sentence (with the
end of the sentence before it, which often names what "it" or "they" is) and gives the
probability that the sentence answers the question.

It is the packaged all-MiniLM-L6-v2's first layers fine-tuned by eval/train_reader.py on
../shared/train-data and the SQuAD 2.0 calibration questions, and ships inside the package as
int8 ONNX (rag/models/reader/reader.onnx, its tokenizer and reader.json: how it was made, the
data's hashes, its validation curve, its sha256), run by onnxruntime. Nothing is downloaded.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError
from rag.settings import RetrievalSettings
from rag.types import Evidence, Sentence

log = logging.getLogger(__name__)

READER_VERSION = 1
CONTEXT_WORDS = 10  # words of the sentence before, after the sentence itself
FOLDER = Path(__file__).resolve().parent / "reader"


def pair_text(sentence: str, previous: str | None) -> str:
    """What the reader reads beside the question: the sentence, then the last words of the
    sentence before it (truncation cuts from the end, so the context goes first)."""
    if not previous:
        return sentence
    tail = " ".join(previous.split()[-CONTEXT_WORDS:])
    return f"{sentence} | {tail}"


def reader_texts(sentences: Mapping[str, Sentence], evidence: Sequence[Evidence]) -> list[str]:
    """What the reader reads for each evidence sentence: it, and the sentence before it (from
    the corpus's sentences by id)."""
    out = []
    for e in evidence:
        s = e.sentence
        before = sentences.get(f"{s.doc_id}#s{s.index - 1}") if s.index else None
        out.append(pair_text(s.text, before.text if before else None))
    return out


class Reader:
    """Scores (question, sentence) pairs; thread-safe. The model loads on first use (about
    0.2 s), so a command that answers nothing (`rag ingest`) never loads it."""

    def __init__(self, folder: Path = FOLDER):
        if not (folder / "reader.onnx").is_file():
            raise ModelError(
                f"the reader model {folder / 'reader.onnx'} is missing: reinstall rag-chat, or "
                "set RAG_READER=off to answer without it"
            )
        self.folder = folder
        self.meta = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None  # (tokenizer, onnxruntime session)

    def load(self) -> None:
        """Load the model now (the chat's warm-up), not on the first question."""
        self._load()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
                tokenizer.enable_truncation(int(self.meta["max_length"]))
                tokenizer.enable_padding()
                options = ort.SessionOptions()
                # idle threads that spin steal the core the LLM or another request is using
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.log_severity_level = 3
                session = ort.InferenceSession(
                    str(self.folder / "reader.onnx"), options, providers=["CPUExecutionProvider"]
                )
                self._loaded = (tokenizer, session)
            return self._loaded

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """P(the text answers the question), one per text (from `pair_text`)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        tokenizer, session = self._loaded or self._load()
        encodings = tokenizer.encode_batch([(question, t) for t in texts])
        feed = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        (logits,) = session.run(None, feed)
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float32)


def make_reader(settings: RetrievalSettings) -> Reader | None:
    """The packaged reader, or None when the settings turn it off (RAG_READER=off)."""
    return None if settings.reader == "off" else Reader()
