from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from rag.ingest.sentences import split_sentences
from tests.conftest import SEEDS, SQUAD_DOCS


def texts(text: str) -> list[str]:
    return [s.text for s in split_sentences("d", text)]


def corpus_files() -> list[Path]:
    files = sorted(SEEDS.glob("*.txt")) + sorted(SQUAD_DOCS.glob("*.txt"))
    assert files, "no seed or SQuAD docs found"
    return files


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_offsets_are_exact_on_real_documents(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    sentences = split_sentences(path.name, text)
    assert sentences
    for i, s in enumerate(sentences):
        assert text[s.start : s.end] == s.text
        assert s.text == s.text.strip() and s.text
        assert s.id == f"{path.name}#s{i}" and s.index == i
    starts = [s.start for s in sentences]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in pairwise(sentences))


def test_seed_keeps_vice_admiral_sentence_whole() -> None:
    text = (SEEDS / "000_2229a254bb7e8488.txt").read_text(encoding="utf-8")
    hits = [s for s in texts(text) if "Hannifin" in s]
    assert len(hits) == 1
    assert "Vice Adm. Patrick Hannifin, commander of the U.S. 7th Fleet" in hits[0]
    assert hits[0].startswith("During the visit") and hits[0].endswith("alliance.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith met Gen. Lee. They talked.", ["Dr. Smith met Gen. Lee.", "They talked."]),
        (
            "He met J. R. Tolkien in 1950. It rained.",
            ["He met J. R. Tolkien in 1950.", "It rained."],
        ),
        ("Sales rose 1.5 percent. Costs fell.", ["Sales rose 1.5 percent.", "Costs fell."]),
        ("The U.S. Navy sailed. Then it stopped.", ["The U.S. Navy sailed.", "Then it stopped."]),
        ("It went to the U.S. The crew rested.", ["It went to the U.S.", "The crew rested."]),
        ("See e.g. the report. Done.", ["See e.g. the report.", "Done."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("Why? Because! Yes.", ["Why?", "Because!", "Yes."]),
        ("Room No. 5 is open. Enter.", ["Room No. 5 is open.", "Enter."]),
        (
            "Headline without stop\nBody text. More.",
            ["Headline without stop", "Body text.", "More."],
        ),
        ("lower case after period. the end", ["lower case after period. the end"]),
        ("Trailing   spaces.   \n\n  Next para.  ", ["Trailing   spaces.", "Next para."]),
    ],
)
def test_abbreviations_and_boundaries(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_empty_and_whitespace_text() -> None:
    assert split_sentences("d", "") == []
    assert split_sentences("d", " \n\t\n") == []


def test_ids_come_from_document_and_position() -> None:
    text = "One. Two. Three."
    assert [s.id for s in split_sentences("a/b.md", text)] == [
        "a/b.md#s0",
        "a/b.md#s1",
        "a/b.md#s2",
    ]
    # editing a sentence keeps every id; appending one keeps the earlier ones
    edited = split_sentences("a/b.md", "One. Two changed. Three.")
    assert [s.id for s in edited] == ["a/b.md#s0", "a/b.md#s1", "a/b.md#s2"]
    assert edited[1].text == "Two changed."
    longer = split_sentences("a/b.md", text + " Four.")
    assert [s.id for s in longer][:3] == [s.id for s in split_sentences("a/b.md", text)]
    assert [s.index for s in longer] == [0, 1, 2, 3]
