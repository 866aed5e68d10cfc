"""The eval runner on a tiny corpus, with question files in both formats, the fake embedder and
(for the baseline) a scripted LlamaIndex LLM."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from rag.cli import main
from rag.engine import Engine
from rag.eval.gold import gold_for, same_sentence
from rag.eval.paths import ROOT, portable_path
from rag.eval.questions import (
    EvalDataError,
    EvalQuestion,
    load_questions,
    parse_question,
    select_questions,
)
from rag.eval.runner import evaluate
from rag.eval.systems import EngineSystem
from rag.ingest.corpus import Corpus, segment
from rag.ingest.documents import read_documents
from rag.settings import Settings
from tests.fakes import HashingEmbedder

NEWS = (
    "The naval drills were stalled due to a 2018 dispute over a flag. "
    "The ministers met at Yokosuka on January 30. "
    "They agreed to resume search and rescue exercises after nine years."
)
RIVER = (
    "The Rhine rises in the Swiss Alps.\n\n"
    "It flows north through Germany. The river reaches the North Sea in the Netherlands."
)


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _ours(tmp: Path) -> Path:
    return _write_jsonl(
        tmp / "questions.jsonl",
        [
            {
                "id": "q1",
                "question": "Why were the naval drills stalled?",
                "answers": ["due to a 2018 dispute over a flag", "a 2018 dispute"],
                "gold_sentences": [
                    "The naval drills were stalled due to a 2018   dispute over a flag."
                ],
                "is_impossible": False,
                "doc_id": "news.txt",
                "type": "why",
                "history": [],
            },
            {
                "id": "q2",
                "question": "Where did the ministers meet?",
                "answers": ["Yokosuka", "at Yokosuka"],
                "gold_sentences": ["The ministers met at Yokosuka on January 30."],
                "is_impossible": False,
                "doc_id": "news.txt",
                "type": "where",
                "history": [],
            },
            {
                "id": "q3",
                "question": "When was it last held?",
                "answers": ["nine years"],
                "gold_sentences": [
                    "They agreed to resume search and rescue exercises after nine years."
                ],
                "is_impossible": False,
                "doc_id": "news.txt",
                "type": "multi-turn",
                "history": ["What exercises did they agree to resume?"],
            },
            {
                "id": "q4",
                "question": "What is the capital of France?",
                "answers": [],
                "gold_sentences": [],
                "is_impossible": True,
                "doc_id": "news.txt",
                "type": "unanswerable-off",
                "history": [],
            },
        ],
    )


def _squad(tmp: Path) -> Path:
    """The SQuAD-style layout: questions.jsonl beside docs/<doc_id>.txt."""
    root = tmp / "squad"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "Rhine.txt").write_text(RIVER, encoding="utf-8")
    passage = RIVER.split("\n\n")[1]
    start = RIVER.index(passage)
    answer_at = RIVER.index("North Sea")
    return _write_jsonl(
        root / "questions.jsonl",
        [
            {
                "id": "r1",
                "question": "Where does the Rhine reach the sea?",
                "answers": ["North Sea", "the North Sea"],
                "is_impossible": False,
                "doc_id": "Rhine",
                "title": "Rhine",
                "gold_passage": passage,
                "gold_span": [start, start + len(passage)],
                "answer_spans": [[answer_at, answer_at + len("North Sea")]],
            },
            {
                "id": "r2",
                "question": "How long is the Danube?",
                "answers": [],
                "is_impossible": True,
                "doc_id": "Rhine",
                "gold_passage": passage,
                "gold_span": [start, start + len(passage)],
            },
        ],
    )


@pytest.fixture
def env(fake_models: Path) -> Path:
    (fake_models / "news.txt").write_text(NEWS, encoding="utf-8")
    return fake_models


def _corpus(docs: Path) -> Corpus:
    documents, _ = read_documents(docs)
    return Corpus({d.doc_id: segment(d, 480, 1) for d in documents})


# -- loading ----------------------------------------------------------------------------------


def test_load_both_formats(tmp_path: Path) -> None:
    ours = load_questions(_ours(tmp_path))
    assert [q.id for q in ours] == ["q1", "q2", "q3", "q4"]
    assert ours[2].history == ("What exercises did they agree to resume?",)
    assert ours[3].impossible and {q.format for q in ours} == {"rag"}
    squad = load_questions(_squad(tmp_path))
    assert squad[0].format == "squad" and squad[0].gold_span is not None
    assert squad[0].answer_spans and squad[1].impossible


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"question": ""}', 'line 2: "question" must be a non-empty string'),
        ('{"question": "Why?", "answers": [], "is_impossible": false}', "needs"),
        ('{"question": "Why?", "answers": "x"}', "list of strings"),
    ],
)
def test_bad_question_lines_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "Who?", "answers": ["x"]}\n' + line + "\n")
    with pytest.raises(EvalDataError, match=message):
        load_questions(path)


def test_squad_answer_objects_are_read_as_their_text() -> None:
    q = parse_question(
        {"question": "Where?", "answers": [{"text": "Bonn", "answer_start": 3}]}, "l1"
    )
    assert q.answers == ("Bonn",) and not q.impossible


def test_duplicate_ids_and_empty_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "Who?", "answers": ["x"]}\n' * 2)
    with pytest.raises(EvalDataError, match="duplicate"):
        load_questions(path)
    path.write_text("\n")
    with pytest.raises(EvalDataError, match="no questions"):
        load_questions(path)


def test_sample_is_deterministic_and_in_file_order() -> None:
    questions = [
        parse_question({"question": f"q{i}?", "answers": ["x"]}, f"l{i}") for i in range(50)
    ]
    a = select_questions(questions, 10, seed=3)
    assert a == select_questions(questions, 10, seed=3)
    assert a != select_questions(questions, 10, seed=4)
    assert [questions.index(q) for q in a] == sorted(questions.index(q) for q in a)
    assert select_questions(questions, None) == questions == select_questions(questions, 80)


# -- gold -------------------------------------------------------------------------------------


def test_same_sentence_survives_resegmentation() -> None:
    gold = "Ahn boarded the USS George Washington and met Vice Adm. Patrick Hannifin."
    assert same_sentence(gold, "Ahn boarded the  USS George Washington and met Vice Adm.")
    assert same_sentence("Ahn met him.", "Ahn met him. Then he left.")
    assert not same_sentence(gold, "Yes.")
    assert not same_sentence(gold, "The ministers met at Yokosuka on January 30.")


def test_gold_of_our_format_is_found_by_text(tmp_path: Path, env: Path) -> None:
    corpus = _corpus(env)
    q1, _, _, q4 = load_questions(_ours(tmp_path))
    gold = gold_for(q1, corpus)
    assert gold.doc_id == "news.txt"
    assert [corpus.sentences[s].text for s in gold.sentence_ids] == [NEWS.split(". ")[0] + "."]
    assert gold.sentence_ids <= gold.support_ids
    assert not gold_for(q4, corpus).sentence_ids and not gold_for(q4, corpus).support_ids


def test_gold_of_squad_format_is_the_answer_sentence_of_the_passage(tmp_path: Path) -> None:
    path = _squad(tmp_path)
    corpus = _corpus(path.parent / "docs")
    r1 = load_questions(path)[0]
    gold = gold_for(r1, corpus)
    assert gold.doc_id == "Rhine.txt"
    texts = {corpus.sentences[s].text for s in gold.sentence_ids}
    assert texts == {"The river reaches the North Sea in the Netherlands."}
    support = {corpus.sentences[s].text for s in gold.support_ids}
    assert "It flows north through Germany." in support  # the rest of the passage supports
    assert "The Rhine rises in the Swiss Alps." not in support
    # without answer_spans, and with a stale gold_span, the passage is found by its text
    stale = EvalQuestion(
        id="r1b",
        question=r1.question,
        answers=r1.answers,
        impossible=False,
        doc_id="Rhine",
        gold_passage=r1.gold_passage,
        gold_span=(0, 5),
    )
    assert gold_for(stale, corpus).sentence_ids == gold.sentence_ids


# -- running ----------------------------------------------------------------------------------


def test_eval_command_on_our_format(
    tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    code = main(
        ["eval", "--docs", str(env), "--questions", str(_ours(tmp_path)), "--out", str(out)]
    )
    assert code == 0
    table = capsys.readouterr().out
    assert "retrieval_recall@3" in table and "citation_precision" in table
    assert "multi-turn" in table  # the per-type breakdown
    text = out.read_text(encoding="utf-8")
    assert str(tmp_path) not in text  # no machine paths in a report
    report = json.loads(text)
    m = report["metrics"]
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (4, 3, 1)
    assert m["gold_not_found"] == 0
    for key in ("exact_match", "f1", "retrieval_mrr", "latency_p50_s", "latency_p95_s"):
        assert isinstance(m[key], float)
    assert m["retrieval_recall@5"] == 1.0  # three sentences: every gold is in the top five
    run = report["run"]
    assert run["system"] == "rag" and run["answerer"] == "extractive"
    assert run["embedder"]["name"] == "fake-hashing:64"
    assert run["settings"]["answerer"] == "extractive" and "prompts" in run and "git" in run
    # every tuning constant that moves a number is recorded with the run
    for name in (
        "rrf_k",
        "candidates",
        "top_k",
        "evidence_k",
        "weight_dense",
        "weight_lexical",
        "weight_type",
        "previous_sentence_weight",
        "min_evidence_score",
        "second_sentence_margin",
        "support_min_coverage",
        "support_min_similarity",
    ):
        assert isinstance(run["settings"][name], int | float), name
    assert set(run["prompts"]) >= {"answer_system.md", "answer_user.md"}
    assert report["dataset"]["questions_run"] == 4 and report["dataset"]["sample_seed"] is None
    rows = {r["id"]: r for r in report["questions"]}
    q4 = rows["q4"]
    assert q4["impossible"] and q4["exact_match"] == float(q4["refused"])
    for row in rows.values():  # citations name real sentences
        for _, sid in row["citations"]:
            assert sid.startswith("news.txt#s")


def test_eval_command_on_the_squad_layout_finds_its_docs(
    tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "squad.json"
    assert main(["eval", "--questions", str(_squad(tmp_path)), "--out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["dataset"]["documents"] == 1 and report["dataset"]["formats"] == {"squad": 2}
    assert report["metrics"]["gold_not_found"] == 0
    assert report["questions"][0]["gold_sentence_ids"] == ["Rhine.txt#s2"]


def test_thresholds_gate_the_exit_code(
    tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = str(_ours(tmp_path))
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(
        json.dumps({"_about": "x", "extractive": {"retrieval_recall@5": 0.5, "f1": 0.0}})
    )
    args = ["eval", "--docs", str(env), "--questions", questions, "--check", str(thresholds)]
    assert main(args) == 0
    assert "thresholds met" in capsys.readouterr().err
    thresholds.write_text(json.dumps({"extractive": {"f1": 1.01, "retrieval_mrr": 0.0}}))
    assert main(args) == 1
    err = capsys.readouterr().err
    # only the failures reach stderr; each gate line names the bound it read
    assert re.search(r"\n  f1: 0\.\d{3} \(95% bound 0\.\d{3}\) vs minimum 1\.010: FAIL\n", err)
    assert "retrieval_mrr" not in err
    thresholds.write_text(json.dumps({"llm": {"f1": 0.0}}))
    assert main(args) == 1
    assert "no thresholds for answerer extractive" in capsys.readouterr().err


def test_previous_report_is_compared_question_by_question(
    tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = str(_ours(tmp_path))
    thresholds = tmp_path / "thresholds.json"
    # a maximum on recall is no real gate: it lets the run be worse than the previous one by
    # construction (3 sentences in the corpus: every gold one is within the top 5)
    limits = {"f1": 0.0, "max:retrieval_recall@5": 1.0}
    thresholds.write_text(json.dumps({"extractive": limits}))
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    args = ["eval", "--docs", str(env), "--questions", questions, "--check", str(thresholds)]
    assert main([*args, "--out", str(old)]) == 0
    capsys.readouterr()
    assert main([*args, "--out", str(new), "--previous", str(old)]) == 0
    out, err = capsys.readouterr()
    report = json.loads(new.read_text(encoding="utf-8"))
    m, gate = report["metrics"], report["gate"]
    f1, f1_lower = m["f1"], m["bounds"]["f1"]["lower"]
    assert f"f1: {f1:.3f} (95% bound {f1_lower:.3f}) vs minimum 0.000: ok" in out
    assert f"f1: {f1:.3f} vs previous {f1:.3f} on 4 paired questions, change +0.000" in out
    assert "none worse than the previous report" in err
    assert [g["metric"] for g in gate["lines"]] == ["f1", "retrieval_recall@5"]
    assert gate["lines"][0]["bound"] == f1_lower
    assert gate["lines"][1]["bound"] == m["bounds"]["retrieval_recall@5"]["upper"]
    assert m["counts"]["retrieval_recall@5"] == [3, 3]
    assert gate["previous"]["paired_questions"] == 4 and gate["passed"]
    # a previous run that found no gold sentence: recall went up on every answerable question
    data = json.loads(old.read_text(encoding="utf-8"))
    for row in data["questions"]:
        row["rank"] = None
    old.write_text(json.dumps(data), encoding="utf-8")
    assert main([*args, "--previous", str(old)]) == 1
    err = capsys.readouterr().err
    assert f"against {thresholds} and {old}:" in err
    assert (
        "retrieval_recall@5: 1.000 vs previous 0.000 on 3 paired questions, change +1.000 "
        "(95% bounds +1.000 to +1.000): FAIL"
    ) in err
    assert "f1" not in err  # unchanged, and met
    old.write_text("{}", encoding="utf-8")
    assert main([*args, "--previous", str(old)]) != 0  # not a report: says so, runs nothing
    assert "not a rag eval report" in capsys.readouterr().err


def test_limit_runs_a_recorded_sample(
    tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    questions = str(_ours(tmp_path))
    args = ["eval", "--docs", str(env), "--questions", questions, "--out", str(out)]
    assert main([*args, "--limit", "2", "--sample-seed", "5"]) == 0
    data = json.loads(out.read_text())["dataset"]
    assert (data["questions_run"], data["limit"], data["sample_seed"]) == (2, 2, 5)


def test_bad_question_file_is_a_one_line_error(
    tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--docs", str(env), "--questions", str(tmp_path / "none.jsonl")]) == 1
    assert capsys.readouterr().err.strip().startswith("error: cannot read the question file")


def test_multi_turn_questions_use_their_history(env: Path, tmp_path: Path) -> None:
    settings = Settings.load(docs_dir=env, answerer="extractive", evidence_k=2)
    system = EngineSystem(Engine(settings))
    system.ingest()
    history = ["Which rescue exercises resumed?"]
    with_history = system.ranked("When was it last held?", history, 10)
    assert len(with_history) == 3  # deeper than evidence_k: the whole ranking
    assert with_history != system.ranked("When was it last held?", [], 10)
    assert system.engine.settings is settings  # the deeper ranking leaves settings alone
    assert len(system.engine.evidence("When was it last held?", history)) == 2
    answer = system.answer("When was it last held?", ["Which rescue exercises resumed?"])
    assert answer.question == "When was it last held?"


def test_report_names_the_llm_and_its_weights(env: Path) -> None:
    from rag.answer.llm_writer import LLMWriter
    from rag.answer.writers import ExtractiveWriter
    from rag.models.weights import GGUF_NAME, GGUF_SHA256
    from tests.fakes import ScriptedLLM

    settings = Settings.load(docs_dir=env, answerer="llm")
    writer = LLMWriter(settings, fallback=ExtractiveWriter(0.08), llm=ScriptedLLM())
    system = EngineSystem(Engine(settings, writers={"llm": writer}))
    run = system.describe()
    assert run["answerer"] == "llm"
    assert run["llm"] == {
        "backend": "llama_cpp",
        "name": "scripted",
        "gguf": GGUF_NAME,
        "sha256": GGUF_SHA256,
    }


def test_portable_path() -> None:
    assert portable_path(Path("eval/questions.jsonl")) == "eval/questions.jsonl"
    assert portable_path(ROOT / "seeds") == "seeds"
    assert portable_path(ROOT.parent / "shared" / "x") == "../shared/x"
    assert portable_path(Path.home() / ".cache" / "rag") == "~/.cache/rag"


# -- the baseline, with a scripted LLM --------------------------------------------------------


def _scripted_llm(reply: str) -> Any:
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata

    class ScriptedLLM(CustomLLM):
        """Always gives the same reply; records the prompts it was given."""

        reply: str = ""
        prompts: list[str] = []  # noqa: RUF012 (a pydantic field)

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=4096, num_output=256)

        def complete(self, prompt: str, formatted: bool = False, **kw: Any) -> CompletionResponse:
            self.prompts.append(prompt)
            return CompletionResponse(text=self.reply)

        def stream_complete(
            self, prompt: str, formatted: bool = False, **kw: Any
        ) -> Iterator[CompletionResponse]:
            yield self.complete(prompt)

    return ScriptedLLM(reply=reply)


def _hashing_embed_model() -> Any:
    from llama_index.core.embeddings import BaseEmbedding

    fake = HashingEmbedder()

    class HashingEmbedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in fake.embed([query])[0]]

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_query_embedding(text)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return HashingEmbedding(model_name="fake-hashing")


def test_baseline_maps_cited_sources_to_sentences(env: Path, tmp_path: Path) -> None:
    from rag.eval.baseline import BaselineSystem, cited_sources, is_refusal

    settings = Settings.load(docs_dir=env, cache_dir=tmp_path / "cache")
    llm = _scripted_llm("A 2018 dispute over a flag stalled them [1].")
    system = BaselineSystem(settings, embed_model=_hashing_embed_model(), llm=llm)
    system.ingest()
    units = system.ranked("Why were the drills stalled?", [], 5)
    assert units == [("news.txt#s0", "news.txt#s1", "news.txt#s2")]  # one chunk, all sentences
    answer = system.answer("Why were the drills stalled?", [])
    assert not answer.refused and answer.answerer == "baseline"
    assert {c.sentence_id for c in answer.citations} == {
        "news.txt#s0",
        "news.txt#s1",
        "news.txt#s2",
    }
    assert all(c.n == 1 for c in answer.citations)
    for c in answer.citations:
        assert NEWS[c.start : c.end] == c.text
    assert "Source 1:" in llm.prompts[0]
    records = evaluate(system, load_questions(_ours(tmp_path)))
    assert len(records) == 4
    q1 = records[0].score
    assert q1.rank == 1 and q1.citations.sentences == 3 and q1.citations.supported >= 1
    assert cited_sources("X [2], per Source 1 and [Source 2] and [3].") == [2, 1, 3]
    assert is_refusal("The sources do not mention it.") and is_refusal("Empty Response")
    assert not is_refusal("In 2017 [1].")
    assert system.describe()["retrieval_unit"].startswith("chunk")


def test_baseline_prompts_are_qwen_chatml() -> None:
    from llama_index.core.llms import ChatMessage

    from rag.eval.baseline import QWEN_DEFAULT_SYSTEM, chatml, chatml_completion

    prompt = chatml_completion("Q?")
    assert prompt.startswith(f"<|im_start|>system\n{QWEN_DEFAULT_SYSTEM}<|im_end|>\n")
    assert prompt.endswith("<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n")
    with_system = chatml(
        [ChatMessage(role="system", content="S"), ChatMessage(role="user", content="U")]
    )
    assert with_system == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    )
