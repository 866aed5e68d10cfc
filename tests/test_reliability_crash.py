"""Crash safety (issue 12, item 2): `kill -9` of an ingest at each point of its write order, then
the next start finds a consistent index (every document either whole or absent, the vectors
its state counts), keeps every document committed before, and the next sync finishes the work,
leaving the index a clean ingest of the folder would leave.

Each crash is a real SIGKILL of a subprocess: `rag ingest` run by tests/crash_points.py, which
patches the one point (the fake embedder stands in for the model), or the chat (app.py, the
real embedder) killed during its start-up indexing. The next start is tests/index_check.py in a
new process: it opens the view, checks the collections and the keyword index, answers a
question, then syncs and checks again.

What is promised after a crash (README, "Chroma is the source of truth"): a document unchanged
since it was committed is in the view, whole; a document the crashed sync was writing (new, or
a new version) is in the view whole at its new version or not at all (its old version is gone
once the sync marked it "writing"); a document being removed is absent or still whole.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SQUAD_DOCS
from tests.index_check import expected_digest

pytestmark = pytest.mark.reliability

SLICE = 16  # chunks embedded and written at a time in these tests: several commits per sync
PLACES = [
    "Abernethy", "Ballinrobe", "Carrickmore", "Dunmanway", "Enniskerry", "Fethard", "Glenties",
    "Holycross", "Inistioge", "Kilrush", "Lisdoonvarna", "Mountshannon", "Newmarket", "Oughterard",
]  # fmt: skip
WORDS = [
    "harbour", "pier", "ferry", "island", "storm", "winter", "council", "market", "bridge",
    "river", "castle", "abbey", "school", "railway", "mill", "quarry", "lighthouse", "festival",
    "parish", "road", "ship", "cargo", "fishing", "tide",
]  # fmt: skip
QUESTION = "What colour was the lighthouse of Abernethy painted?"


def text_of(i: int, sentences: int, edit: int = 0) -> str:
    rnd = random.Random(i * 1000 + edit)
    lines = [f"The lighthouse of {PLACES[i]} was painted {['red', 'green', 'blue'][i % 3]}."]
    for _ in range(sentences):
        words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(8, 14)))
        lines.append(f"The {words} of {PLACES[i]} stood there.")
    return " ".join(lines) + (f" It was edited {edit} times." if edit else "")


@dataclass
class Case:
    root: Path
    docs: Path
    index: Path
    env: dict[str, str]
    log: Path

    def args(self) -> list[str]:
        return ["--docs", str(self.docs), "--index", str(self.index)]

    def crash(
        self, point: str, nth: int, delay_ms: float = 5.0
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["-m", "tests.crash_points", point, str(nth), "--delay-ms", str(delay_ms)]
        return run([*cmd, "--slice", str(SLICE), "--", "ingest", *self.args()], self.env)

    def next_start(self, *extra: str) -> list[dict[str, Any]]:
        """tests/index_check.py: the index as the next process finds it, then (with --sync)
        after that process's sync."""
        cmd = ["-m", "tests.index_check", *self.args(), "--slice", str(SLICE), *extra]
        done = run(cmd, self.env)
        assert done.returncode == 0, f"the next start crashed:\n{done.stderr[-3000:]}"
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    def crashes(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def run(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def make_case(tmp_path: Path) -> Case:
    docs = tmp_path / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "RAG_CACHE_DIR": str(tmp_path / "cache"),
        "RAG_CONDENSE": "rules",
        "CRASH_LOG": str(tmp_path / "crash.log"),
        "OMP_WAIT_POLICY": "PASSIVE",
        "HF_HUB_OFFLINE": "1",
    }
    return Case(tmp_path, docs, tmp_path / "index", env, tmp_path / "crash.log")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A docs folder of 8 documents indexed by a first clean `rag ingest`, kept as a snapshot
    (the collections' names come from the folders' paths: each test restores it in place)."""
    root = tmp_path_factory.mktemp("crash")
    c = make_case(root / "work")
    for i in range(8):
        (c.docs / f"base{i}.txt").write_text(text_of(i, 40), encoding="utf-8")
    first = c.crash("none", 0)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "8 added" in first.stdout
    shutil.copytree(c.root, root / "snapshot")
    return root


@pytest.fixture
def case(indexed: Path) -> Case:
    """The indexed folder as the first ingest left it."""
    shutil.rmtree(indexed / "work")
    shutil.copytree(indexed / "snapshot", indexed / "work")
    return make_case(indexed / "work")


def change(c: Case) -> None:
    """What the crashing sync has to do: 4 new (larger) documents, one edited, one removed."""
    for i in range(8, 12):
        (c.docs / f"new{i}.txt").write_text(text_of(i, 80), encoding="utf-8")
    (c.docs / "base1.txt").write_text(text_of(1, 44, edit=1), encoding="utf-8")
    (c.docs / "base2.txt").unlink()


# (point, nth time reached, delay of the timed kill in ms): see tests/crash_points.py
POINTS = [
    ("embed", 3, 0),  # during the third slice's embedding: two slices committed before
    ("vector-write", 2, 2),  # inside Chroma's upsert of the second slice's vectors
    ("vector-write", 4, 8),
    ("vector-written", 3, 0),  # the vectors written, the commit not yet
    ("state-write", 2, 3),  # inside the docs collection's upsert of a commit ("done")
    ("commit", 1, 0),  # states "done", the generation token not yet changed
    ("keyword-segment", 1, 0),  # half of the keyword index's new segment written
    ("keyword-manifest", 1, 0),  # the new manifest written, not yet swapped in
    ("remove", 1, 1),  # inside the removed document's vector deletion
    ("remove-texts", 1, 0),  # its vectors and text deleted, its docs record not yet
]


@pytest.mark.parametrize(("point", "nth", "delay"), POINTS, ids=[f"{p}-{n}" for p, n, _ in POINTS])
def test_kill_9_at_each_point_then_the_next_start_is_consistent_and_the_sync_finishes(
    case: Case, point: str, nth: int, delay: float
) -> None:
    before = expected_digest(_settings(case))  # what the first ingest committed
    change(case)
    want = expected_digest(_settings(case))  # a clean ingest of the changed folder
    to_embed = sum(
        want[d]["chunks"] for d in want if before.get(d, {}).get("hash") != want[d]["hash"]
    )

    crashed = case.crash(point, nth, delay)
    assert crashed.returncode == -signal.SIGKILL, (
        f"the ingest was not killed at {point} #{nth} (exit {crashed.returncode}):\n"
        f"{crashed.stdout}{crashed.stderr[-2000:]}"
    )
    assert [c["point"] for c in case.crashes()] == [point]
    print(f"\nkill -9 at {point} #{nth}: {case.crashes()[0]['where']}")

    found, finished = case.next_start("--sync", "--question", QUESTION)
    assert found["problems"] == [], f"after kill -9 at {point}: {found['problems']}"
    view = found["view"]
    for d, old in before.items():
        if want.get(d, {}).get("hash") == old["hash"]:  # unchanged: never lost
            assert view.get(d) == old["hash"], f"{d}, committed before the crash, is lost"
        elif d in want:  # an edited document: its old version, or the new one, whole
            assert view.get(d) in (None, old["hash"], want[d]["hash"]), d
        else:  # a removed one: absent, or whole
            assert view.get(d) in (None, old["hash"]), d
    for d in set(want) - set(before):  # new: absent or whole (problems would say)
        assert view.get(d) in (None, want[d]["hash"]), d
    assert found["answer"]["bad_citations"] == 0
    assert not found["answer"]["refused"] and "base0.txt" in found["answer"]["cited"]

    # the next sync finished the work: the index a clean ingest of the folder leaves
    assert finished["problems"] == [], finished["problems"]
    assert finished["digest"] == want
    if point in ("keyword-segment", "keyword-manifest"):
        # every document was committed; the keyword index lagged, and the view followed it
        assert found["keyword_lagged"] and finished["embedded"] == 0
        # the crash left the keyword index as it was saved before (not torn, not lost)
        assert found["raw_keyword"] == {d: b["hash"] for d, b in before.items()}
        assert set(view) == set(want)
    elif point.startswith("remove"):  # nothing of the new versions was written yet
        assert finished["embedded"] == to_embed and finished["resumed"] == 0
    else:  # the documents begun are resumed, and what was committed is not embedded again
        assert finished["resumed"] >= 1, finished["summary"]
        assert 0 < finished["embedded"] < to_embed, finished["summary"]


def _settings(c: Case) -> Any:
    from rag.settings import Settings

    return Settings.load(docs_dir=c.docs, index_dir=c.index, cache_dir=c.root / "cache")


def test_kill_9_at_random_times_during_one_long_ingest(tmp_path: Path) -> None:
    """Ten kills at seeded random times into the sync of a folder (60 documents, 8 chunks a
    slice): after each, the next start (which checks the index, then resumes the sync and is
    killed in turn) finds it consistent, with every document committed before still there."""
    c = make_case(tmp_path)
    for i in range(60):
        (c.docs / f"doc{i:02}.txt").write_text(
            text_of(i % len(PLACES), 30, edit=i), encoding="utf-8"
        )
    want = expected_digest(_settings(c))
    rnd = random.Random(12)
    outcomes: dict[str, int] = {}
    committed: dict[str, str] = {}
    cmd = [sys.executable, "-m", "tests.index_check", *c.args(), "--slice", "8", "--sync"]
    for n in range(10):
        err = tmp_path / f"stderr{n}"
        with err.open("w") as stderr:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=c.env, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("{"), f"the start crashed:\n{err.read_text()[-3000:]}"
            found = json.loads(line)
            delay = rnd.uniform(0.0, 1.0)  # into the sync's embedding (about 3 s in all)
            deadline = time.monotonic() + 60
            while "embedding:" not in err.read_text() and proc.poll() is None:
                assert time.monotonic() < deadline, err.read_text()[-3000:]
                time.sleep(0.01)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
        assert found["problems"] == [], f"after kill {n}: {found['problems']}"
        lost = {d for d, h in committed.items() if found["view"].get(d) != h}
        assert not lost, f"after kill {n}, documents committed before are lost: {lost}"
        committed = found["view"]
        progress = [ln for ln in err.read_text().splitlines() if ln.startswith("embedding:")]
        if proc.returncode != -signal.SIGKILL:
            outcome = "finished before the kill"
        elif len(progress) > 1:
            outcome = "killed while embedding and writing"
        else:
            outcome = "killed before the first slice was written"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if proc.returncode == 0:
            break
    print(f"\nrandom kills: {outcomes}; {len(committed)} of {len(want)} documents committed")
    assert outcomes.get("killed while embedding and writing", 0) >= 3, outcomes
    found, finished = c.next_start("--sync")
    assert found["problems"] == [] and finished["problems"] == []
    assert finished["digest"] == want


@pytest.mark.slow
def test_kill_9_of_the_chat_during_its_start_up_indexing(tmp_path: Path) -> None:
    """The chat's ingest: `python app.py` (the real embedder) killed while it indexes SQuAD
    articles at start-up (after its first 512-chunk slice is written), then started again: the
    index it finds is consistent, the start resumes the sync and serves, and the index ends as a
    clean ingest would leave it."""
    import re

    from rag.settings import Settings
    from tests.appserver import start_app, stop_app
    from tests.conftest import free_port

    docs = tmp_path / "docs"
    docs.mkdir()
    # the smaller articles, about 650 chunks: the first slice of 512 is committed, then the kill
    for path in sorted(SQUAD_DOCS.glob("*.txt"), key=lambda p: p.stat().st_size)[:9]:
        shutil.copy(path, docs / path.name)
    models = Settings.load().index.cache_dir / "models"  # the ONNX export, made once per machine
    (tmp_path / "cache").mkdir()
    if models.is_dir():
        (tmp_path / "cache" / "models").symlink_to(models, target_is_directory=True)
    env = {
        **os.environ,
        "RAG_PORT": str(free_port()),
        "RAG_DOCS_DIR": str(docs),
        "RAG_CACHE_DIR": str(tmp_path / "cache"),
        "RAG_ANSWERER": "extractive",
        "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
    }
    log = tmp_path / "killed.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            got = re.findall(r"embedding: (\d+)/(\d+)", log.read_text())
            if any(0 < int(a) < int(b) for a, b in got):
                break
            assert "Loading the models" not in log.read_text(), "indexed before the kill"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, log.read_text()[-3000:]

    settings = Settings.load(docs_dir=docs, cache_dir=tmp_path / "cache")
    want = expected_digest(settings)
    index = settings.index.resolved_index_dir()
    check = [
        "-m",
        "tests.index_check",
        "--docs",
        str(docs),
        "--index",
        str(index),
        "--adopt-fingerprint",
    ]
    found = run(check, env)
    assert found.returncode == 0, found.stderr[-3000:]
    state = json.loads(found.stdout.splitlines()[-1])
    assert state["problems"] == [], state["problems"]
    assert 0 < len(state["view"]) < len(want), state["states"]  # some committed, not all
    assert all(want[d]["hash"] == h for d, h in state["view"].items())
    assert state["digest"] == {d: want[d] for d in state["view"]}

    server = start_app(tmp_path, copy_seeds=False)  # the same docs folder and cache: resumes
    try:
        started = server.log.read_text()
        assert re.search(r"\d+ resumed", started), started[-3000:]
    finally:
        stop_app(server)
    found = run(check, env)
    assert found.returncode == 0, found.stderr[-3000:]
    state = json.loads(found.stdout.splitlines()[-1])
    assert state["problems"] == [] and set(state["states"].values()) == {"done"}
    assert state["digest"] == want
