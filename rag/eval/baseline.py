"""The baseline we measure ourselves against, with the same runner: the stock LlamaIndex
pipeline at its default settings, over the same documents, with the same embedding model and
the same local LLM.

- `VectorStoreIndex.from_documents` with the default node parser (`SentenceSplitter`, 1024
  tokens, 200 overlap) and the default in-memory `SimpleVectorStore` (no Chroma), embedding
  with `HuggingFaceEmbedding` over the packaged all-MiniLM-L6-v2;
- `CitationQueryEngine.from_args(index, llm=...)`: similarity_top_k 2, citation chunks of 512
  tokens, its own citation prompt, compact response mode;
- the LLM: the packaged Qwen2.5-Coder-1.5B GGUF through LlamaIndex's `LlamaCPP`, temperature 0,
  256 new tokens, a 4096-token context, wrapped in Qwen's ChatML (with the chat template's
  default system message, as a stock user would get).

Its response is mapped into our Answer: the text as is; each [n] in it (or "[Source n]" and
"Source n", as a small model often writes) cites "Source n", whose text is found in its
document and turned into the corpus sentences it spans (so citation metrics count every
sentence of a cited chunk); refused when the text says it cannot answer.
A stock query engine has no conversation memory, so the history of a multi-turn question is
not used. Models are passed explicitly; LlamaIndex's global Settings are never touched.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.eval.identity import embedder_identity, llm_identity
from rag.ingest.corpus import Corpus, segment
from rag.ingest.documents import read_documents
from rag.settings import Settings
from rag.types import ANSWERED, Answer, Citation, Decision, Sentence

log = logging.getLogger(__name__)

# what a stock user of Qwen2.5 gets from its chat template when no system message is given
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

REFUSES = re.compile(
    r"\b(does not|do not|doesn't|don't know|no information|not mentioned|not provided|"
    r"not specified|not stated|cannot|can't|unable to|none of the sources|no mention)\b",
    re.I,
)
_SOURCE_LABEL = re.compile(r"^\s*Source \d+:\s*\n?")
# "[2]" as its prompt asks, and the "[Source 2]" or "Source 2" a small model often writes
_SOURCE_REF = re.compile(r"\[(?:source\s*)?(\d{1,3})\]|\bsource\s+(\d{1,3})\b", re.I)


def cited_sources(text: str) -> list[int]:
    """The source numbers the response cites, in order of first mention."""
    seen: list[int] = []
    for match in _SOURCE_REF.finditer(text):
        n = int(match.group(1) or match.group(2))
        if n not in seen:
            seen.append(n)
    return seen


BASELINE_REFUSES = "the baseline's answer says the sources do not answer"


def is_refusal(text: str) -> bool:
    text = text.strip()
    return not text or text == "Empty Response" or bool(REFUSES.search(text))


def chatml(messages: Sequence[Any]) -> str:
    """LlamaIndex chat messages as a Qwen ChatML prompt, ending at the assistant's turn."""
    parts = []
    roles = [str(getattr(m.role, "value", m.role)) for m in messages]
    if "system" not in roles:
        parts.append(f"<|im_start|>system\n{QWEN_DEFAULT_SYSTEM}<|im_end|>\n")
    for role, message in zip(roles, messages, strict=True):
        parts.append(f"<|im_start|>{role}\n{message.content or ''}<|im_end|>\n")
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def chatml_completion(completion: str) -> str:
    return (
        f"<|im_start|>system\n{QWEN_DEFAULT_SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{completion}<|im_end|>\n<|im_start|>assistant\n"
    )


def make_llamacpp(settings: Settings) -> Any:
    """The same local model our LLM writer uses, as a raw LlamaIndex LLM."""
    from llama_index.llms.llama_cpp import LlamaCPP

    from rag.models.weights import llm_gguf_path

    return LlamaCPP(
        model_path=str(llm_gguf_path(settings)),
        temperature=0.0,
        max_new_tokens=256,
        context_window=4096,
        messages_to_prompt=chatml,
        completion_to_prompt=chatml_completion,
        model_kwargs={"n_threads": settings.llm.threads},
        verbose=False,
    )


def make_embed_model(settings: Settings) -> Any:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from rag.models.weights import embedding_model_path

    path = settings.index.embed_model_path or embedding_model_path()
    return HuggingFaceEmbedding(model_name=str(path), device="cpu")


class BaselineSystem:
    """The stock VectorStoreIndex + CitationQueryEngine, as the eval runner sees it."""

    name = "baseline"
    answerer = "baseline"

    def __init__(self, settings: Settings, embed_model: Any = None, llm: Any = None):
        self.settings = settings
        self._embed_model = embed_model
        self._llm = llm
        self._corpus = Corpus()
        self._index: Any = None
        self._engine: Any = None

    # -- models, built on first use ----------------------------------------------------------

    @property
    def embed_model(self) -> Any:
        if self._embed_model is None:
            self._embed_model = make_embed_model(self.settings)
        return self._embed_model

    @property
    def llm(self) -> Any:
        if self._llm is None:
            self._llm = make_llamacpp(self.settings)
        return self._llm

    @property
    def corpus(self) -> Corpus:
        return self._corpus

    # -- the System interface ----------------------------------------------------------------

    def ingest(self) -> None:
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        docs, _ = read_documents(self.settings.index.docs_dir)
        # our segmentation only serves to name the sentences a chunk spans, for the metrics
        self._corpus = Corpus(
            {
                d.doc_id: segment(
                    d,
                    self.settings.index.chunk_max_chars,
                    self.settings.index.chunk_overlap_sentences,
                )
                for d in docs
            }
        )
        self._index = VectorStoreIndex.from_documents(
            [Document(text=d.text, id_=d.doc_id) for d in docs],
            transformations=[SentenceSplitter()],  # the default node parser, passed explicitly
            embed_model=self.embed_model,
        )
        self._engine = None

    def engine(self) -> Any:
        if self._engine is None:
            from llama_index.core.query_engine import CitationQueryEngine

            if self._index is None:
                self.ingest()
            self._engine = CitationQueryEngine.from_args(self._index, llm=self.llm)
        return self._engine

    def warm_up(self) -> None:
        self.embed_model.get_query_embedding("warm up")
        self.engine()

    def ranked(self, question: str, history: Sequence[str], depth: int) -> list[tuple[str, ...]]:
        """The index's own retriever, asked for `depth` chunks; each unit is a chunk's
        sentences."""
        if self._index is None:
            self.ingest()
        nodes = self._index.as_retriever(similarity_top_k=depth).retrieve(question)
        units = []
        for n in nodes:
            node = n.node
            start, end = node.start_char_idx, node.end_char_idx
            if start is None or end is None:
                located = self._locate(node.ref_doc_id, node.get_content())
                start, end = located if located else (0, 0)
            units.append(tuple(s.id for s in self._sentences(node.ref_doc_id, start, end)))
        return units

    def answer(self, question: str, history: Sequence[str]) -> Answer:
        try:
            response = self.engine().query(question)
        except (ValueError, RuntimeError) as exc:  # e.g. a prompt longer than the context
            raise RagError(f"the baseline failed on this question: {exc}") from exc
        text = str(response.response or "").strip()
        sources = list(response.source_nodes)
        citations: list[Citation] = []
        for n in cited_sources(text):
            if not 1 <= n <= len(sources):
                continue
            node = sources[n - 1].node
            chunk = _SOURCE_LABEL.sub("", node.get_content()).strip()
            span = self._locate(node.ref_doc_id, chunk)
            if span is None:
                log.warning("baseline source %d not found in %s", n, node.ref_doc_id)
                continue
            for s in self._sentences(node.ref_doc_id, *span):
                citations.append(Citation(n, s.doc_id, s.id, s.start, s.end, s.text, s.page))
        return Answer(
            question=question,
            text=text,
            # the stock pipeline has no answerability check: its refusal is its model's wording
            decision=Decision("refused", BASELINE_REFUSES, "writer")
            if is_refusal(text)
            else ANSWERED,
            citations=tuple(citations),
            answerer=self.answerer,
            note=f"{len(sources)} sources",
        )

    def describe(self) -> dict[str, Any]:
        from llama_index.core.query_engine.citation_query_engine import CITATION_QA_TEMPLATE

        model_name = str(getattr(self._embed_model, "model_name", "") or "")
        embedder = f"llama_index-huggingface:{Path(model_name).name}"
        template = CITATION_QA_TEMPLATE.get_template()
        return {
            "system": self.name,
            "answerer": self.answerer,
            "pipeline": (
                "llama_index VectorStoreIndex (SentenceSplitter 1024/200, SimpleVectorStore in "
                "memory) + CitationQueryEngine.from_args defaults (similarity_top_k=2, "
                "citation_chunk_size=512, compact); LlamaCPP temperature 0, 256 new tokens, "
                "context 4096, ChatML; conversation history not used"
            ),
            "embedder": embedder_identity(self.settings, embedder),
            "llm": llm_identity(self.settings),
            "retrieval_unit": "chunk (SentenceSplitter, 1024 tokens)",
            "prompts": {
                "citation_qa_template": hashlib.sha256(template.encode()).hexdigest(),
                "qwen_default_system": hashlib.sha256(QWEN_DEFAULT_SYSTEM.encode()).hexdigest(),
            },
        }

    # -- mapping chunks to our sentences -----------------------------------------------------

    def _sentences(self, doc_id: str | None, start: int, end: int) -> list[Sentence]:
        if not doc_id or doc_id not in self._corpus.entries:
            return []
        return [
            s
            for s in self._corpus.entries[doc_id].sentences
            if min(end, s.end) - max(start, s.start) > 0
        ]

    def _locate(self, doc_id: str | None, chunk: str) -> tuple[int, int] | None:
        """Where a chunk's text lies in its document: exactly, else by whitespace-insensitive
        search from its first and last words."""
        if not doc_id or doc_id not in self._corpus.entries or not chunk.strip():
            return None
        text = self._corpus.entries[doc_id].document.text
        at = text.find(chunk)
        if at >= 0:
            return at, at + len(chunk)
        words = chunk.split()
        head = re.compile(r"\s+".join(map(re.escape, words[:8])))
        tail = re.compile(r"\s+".join(map(re.escape, words[-8:])))
        first = head.search(text)
        if first is None:
            return None
        last = next(tail.finditer(text, first.start()), None)
        return first.start(), (last.end() if last else first.end())
