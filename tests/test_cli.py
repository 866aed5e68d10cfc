"""The CLI's contract: one JSON object on stdout, one-line errors and non-zero exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main

DOC = (
    "The naval drills were stalled due to a 2018 dispute over a flag. "
    "The ministers met at Yokosuka on January 30."
)


@pytest.fixture
def env(fake_models: Path) -> Path:
    (fake_models / "news.txt").write_text(DOC, encoding="utf-8")
    return fake_models


def test_ask_json_prints_one_object(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Why were the drills stalled?", "--docs", str(env), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)  # exactly one JSON document, nothing else on stdout
    assert data["refused"] is False and data["citations"]
    c = data["citations"][0]
    text = (env / c["doc_id"]).read_text(encoding="utf-8")
    assert text[c["start"] : c["end"]] == c["text"]
    assert f"[{c['n']}]" in data["answer"]
    assert c["page"] is None  # a text file has no pages


def test_ask_about_a_pdf_cites_its_page(
    fake_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.ingest.formats import extract
    from tests.files import make_pdf

    pdf = fake_models / "report.pdf"
    make_pdf(
        pdf,
        [
            ["The harbour was quiet all winter.", "Fishing boats stayed in port."],
            ["The pier was repaired in May by a local firm."],
            ["The naval drills were stalled due to a 2018 dispute over a flag."],
        ],
    )
    assert main(["ask", "Why were the drills stalled?", "--docs", str(fake_models), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    c = data["citations"][0]
    assert (c["doc_id"], c["page"]) == ("report.pdf", 3)
    extracted = extract(".pdf", pdf.read_bytes())
    assert not isinstance(extracted, str)
    assert extracted.text[c["start"] : c["end"]] == c["text"]
    assert main(["ask", "Why were the drills stalled?", "--docs", str(fake_models)]) == 0
    assert "report.pdf (page 3, " in capsys.readouterr().out


def test_an_interrupted_ingest_says_so_and_the_next_resumes(
    fake_models: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.ingest.store
    import rag.models.embedder

    monkeypatch.setattr(rag.ingest.store, "SLICE", 1)  # a commit after every chunk
    for i in range(4):
        (fake_models / f"n{i}.txt").write_text(f"Note {i} is short.", encoding="utf-8")
    fake = rag.models.embedder.make_embedder(None)  # type: ignore[arg-type]
    real_embed = fake.embed

    def ctrl_c_on_the_third(texts: list[str]) -> object:
        if fake.embedded >= 2:
            raise KeyboardInterrupt
        return real_embed(texts)

    monkeypatch.setattr(fake, "embed", ctrl_c_on_the_third)
    assert main(["ingest", "--docs", str(fake_models)]) == 130
    assert "run `rag ingest` again to resume" in capsys.readouterr().err
    monkeypatch.setattr(fake, "embed", real_embed)
    assert main(["ingest", "--docs", str(fake_models)]) == 0
    out = capsys.readouterr().out
    assert "2 resumed" in out and "2 texts embedded" in out, out


def test_ingest_summary_and_unchanged_reingest(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "--docs", str(env)]) == 0
    assert "1 added" in capsys.readouterr().out
    assert main(["ingest", "--docs", str(env)]) == 0
    out = capsys.readouterr().out
    assert "1 unchanged" in out and "0 texts embedded" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "the question is empty"),
        (["ask", "x" * 501], "characters long"),
        (["ask", "Why?", "--docs", "{missing}"], "does not exist"),
        (["ask", "Why?", "--docs", "{binary}"], "no readable"),
        (["ingest", "--docs", "{missing}"], "does not exist"),
    ],
)
def test_bad_input_gives_one_line_error(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / "x.txt").write_bytes(b"\x00\x01")
    args = [a.format(missing=tmp_path / "missing", binary=binary) for a in args]
    code = main([*args, "--docs", str(env)] if "--docs" not in args else args)
    err = capsys.readouterr()
    assert code != 0
    assert err.out == ""
    lines = err.err.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert "Traceback" not in err.err


def test_invalid_setting_is_reported(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_TOP_K", "lots")
    assert main(["ask", "Why?", "--docs", str(env)]) == 2
    assert "RAG_TOP_K" in capsys.readouterr().err


def test_chat_streams_answers_remembers_and_starts_over(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = iter(
        [
            "Why were the drills stalled?",
            "When did they meet?",  # leans on the conversation: rewritten by rule
            "/new",
            "When did they meet?",  # nothing to lean on any more
            "/bogus",
        ]
    )

    def scripted(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None  # Ctrl-D

    monkeypatch.setattr("builtins.input", scripted)
    assert main(["chat", "--docs", str(env)]) == 0
    out = capsys.readouterr().out
    assert "/new starts a new conversation" in out
    assert "2018 dispute" in out and "  [1] news.txt (" in out
    assert out.count("  searched: When did drills meet?") == 1  # the first follow-up only
    assert "(new conversation)" in out
    assert "unknown command /bogus" in out
