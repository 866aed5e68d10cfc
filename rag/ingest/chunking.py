"""Pure: group consecutive sentences into chunks for embedding; ids are stable."""

from __future__ import annotations

from collections.abc import Sequence

from rag.types import Chunk, Sentence


def chunk_sentences(
    text: str, sentences: Sequence[Sentence], max_chars: int, overlap: int = 1
) -> list[Chunk]:
    """Chunks of whole consecutive sentences, each at most `max_chars` long unless one sentence
    alone is longer; consecutive chunks share `overlap` sentences so that an answer spread over
    a chunk border is still seen whole by one chunk."""
    if max_chars < 1 or overlap < 0:
        raise ValueError("max_chars must be positive and overlap non-negative")
    chunks: list[Chunk] = []
    first = 0
    while first < len(sentences):
        last = first
        while (
            last + 1 < len(sentences)
            and sentences[last + 1].end - sentences[first].start <= max_chars
        ):
            last += 1
        group = sentences[first : last + 1]
        start, end = group[0].start, group[-1].end
        chunks.append(
            Chunk(
                id=f"{group[0].doc_id}#c{len(chunks)}",
                doc_id=group[0].doc_id,
                index=len(chunks),
                sentence_ids=tuple(s.id for s in group),
                start=start,
                end=end,
                text=text[start:end],
            )
        )
        if last + 1 >= len(sentences):
            break
        first = max(first + 1, last + 1 - overlap)
    return chunks
