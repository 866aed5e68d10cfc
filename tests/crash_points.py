"""`rag ingest` that dies by SIGKILL at a named point: the crash tests' subprocess
(tests/test_reliability_crash.py). The fake embedder (tests/fakes.py) stands in for the model,
and the point is patched from here: production code has no test hooks.

    python -m tests.crash_points POINT N [--delay-ms D] [--slice K] -- ingest --docs DIR ...

POINT, killed the Nth time it is reached (N counts from 1):
  none            no kill: a plain `rag ingest` with the fake embedder
  embed           inside the embedder's embed call (a slice being embedded)
  vector-write    inside the chunks collection's upsert: a killer process started beforehand
                  sends SIGKILL D ms after the call began; if the call returns first, this
                  process waits to be killed (so it dies right after the write, before the
                  state commit)
  vector-written  right after a chunks upsert returned, before the documents' commit
  state-write     inside ChromaIndex.set_states of a commit ("done" states), as vector-write
  commit          inside ChromaIndex.commit, after the states are done, before the new
                  generation token is written
  keyword-segment inside rag.ingest.keyword._write_segment: half of the segment's temporary
                  file written and flushed
  keyword-manifest  in KeywordIndex.save, the new manifest written to its temporary file,
                  before the os.replace that makes it current
  remove          inside the chunks collection's delete (a removed document's vectors), as
                  vector-write
  remove-texts    in ChromaIndex.remove, after the texts records are deleted, before the docs
                  records

Where the kill landed ("inside" or "after" the call, for the timed points) is appended, one
line of JSON, to the file named by $CRASH_LOG (when set).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The killer: a separate process, so the kill lands whatever this one is doing (Chroma's Rust
# code holds the GIL through most of a write, so a thread here could not fire inside it).
KILLER = r"""
import json, os, select, signal, sys, time
pid, log = int(sys.argv[1]), sys.argv[2]
buf = b""
while b"\n" not in buf:
    chunk = os.read(0, 64)
    if not chunk:
        sys.exit(0)  # the ingest ended without arming us
    buf += chunk
line, buf = buf.split(b"\n", 1)
point, delay = line.decode().split()
deadline = time.monotonic() + float(delay) / 1000
where = "inside"
while b"returned" not in buf:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    ready, _, _ = select.select([0], [], [], left)
    if ready:
        chunk = os.read(0, 64)
        if not chunk:
            break
        buf += chunk
if b"returned" in buf:
    where = "after"
os.kill(pid, signal.SIGKILL)
if log:
    with open(log, "a") as f:
        f.write(json.dumps({"point": point, "where": where, "delay_ms": float(delay)}) + "\n")
"""


def _log(point: str, where: str, **extra: Any) -> None:
    path = os.environ.get("CRASH_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"point": point, "where": where, **extra}) + "\n")


def die(point: str, where: str = "at") -> None:
    _log(point, where)
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)  # never reached


class Killer:
    """Kills this process `delay_ms` after arm(), from another process."""

    def __init__(self, point: str, delay_ms: float):
        self.point, self.delay_ms = point, delay_ms
        self.proc = subprocess.Popen(
            [sys.executable, "-c", KILLER, str(os.getpid()), os.environ.get("CRASH_LOG", "")],
            stdin=subprocess.PIPE,
        )

    def around(self, call: Callable[[], Any]) -> None:
        """Run the call with the kill armed; never returns (dies inside or right after it)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{self.point} {self.delay_ms}\n".encode())
        self.proc.stdin.flush()
        try:
            call()
        finally:
            self.proc.stdin.write(b"returned\n")
            self.proc.stdin.flush()
            time.sleep(60)  # the killer is on its way


def install(point: str, nth: int, delay_ms: float) -> None:
    """Patch the one point (and the fake embedder everywhere)."""
    import chromadb.api.models.Collection as chroma_collection
    import numpy as np

    import rag.engine
    import rag.ingest.keyword as keyword
    import rag.models.embedder
    from rag.ingest.chroma import ChromaIndex
    from tests.fakes import HashingEmbedder

    fake = HashingEmbedder()
    rag.models.embedder.make_embedder = lambda settings: fake  # type: ignore[assignment]
    rag.engine.make_embedder = lambda settings: fake  # type: ignore[assignment]
    seen = [0]

    def reached() -> bool:
        seen[0] += 1
        return seen[0] == nth

    killer = Killer(point, delay_ms) if point in TIMED else None
    Collection: Any = chroma_collection.Collection

    if point == "embed":
        real_embed = fake.embed

        def embed(texts: Any) -> Any:
            if reached():
                real_embed(texts[: len(texts) // 2])  # part of the slice embedded
                die(point)
            return real_embed(texts)

        fake.embed = embed  # type: ignore[method-assign]
    elif point in ("vector-write", "vector-written"):
        real_upsert = Collection.upsert

        def upsert(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self.name.endswith("_chunks") and reached():
                if killer is not None:
                    killer.around(lambda: real_upsert(self, *args, **kwargs))
                real_upsert(self, *args, **kwargs)
                die(point, "after")
            return real_upsert(self, *args, **kwargs)

        Collection.upsert = upsert
    elif point == "state-write":
        real_set = ChromaIndex.set_states

        def set_states(self: Any, states: Any) -> Any:
            if states and all(s.state == "done" for s in states.values()) and reached():
                assert killer is not None
                killer.around(lambda: real_set(self, states))
            return real_set(self, states)

        ChromaIndex.set_states = set_states  # type: ignore[method-assign]
    elif point == "commit":
        real_commit = ChromaIndex.commit

        def commit(self: Any, fingerprint: str) -> Any:
            states = self._states or {}
            if states and reached():
                die(point)
            return real_commit(self, fingerprint)

        ChromaIndex.commit = commit  # type: ignore[method-assign]
    elif point == "keyword-segment":
        real_savez = np.savez

        def savez(f: Any, **arrays: Any) -> None:
            if reached():
                whole = io.BytesIO()
                real_savez(whole, **arrays)
                f.write(whole.getvalue()[: len(whole.getvalue()) // 2])
                f.flush()
                os.fsync(f.fileno())
                die(point)
            real_savez(f, **arrays)

        keyword.np.savez = savez  # type: ignore[assignment]
    elif point == "keyword-manifest":
        real_replace = os.replace

        def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            if Path(dst).name == keyword.MANIFEST and reached():
                die(point)
            real_replace(src, dst, *args, **kwargs)

        keyword.os.replace = replace  # type: ignore[assignment]
    elif point in ("remove", "remove-texts"):
        real_delete = Collection.delete
        suffix = "_chunks" if point == "remove" else "_texts"

        def delete(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self.name.endswith(suffix) and reached():
                if killer is not None:
                    killer.around(lambda: real_delete(self, *args, **kwargs))
                real_delete(self, *args, **kwargs)
                die(point, "after")
            return real_delete(self, *args, **kwargs)

        Collection.delete = delete
    elif point != "none":
        raise SystemExit(f"unknown point {point!r}")


TIMED = {"vector-write", "state-write", "remove"}
POINTS = [
    "none",
    "embed",
    "vector-write",
    "vector-written",
    "state-write",
    "commit",
    "keyword-segment",
    "keyword-manifest",
    "remove",
    "remove-texts",
]


def main() -> int:
    argv = sys.argv[1:]
    ours, rest = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    p = argparse.ArgumentParser(prog="python -m tests.crash_points")
    p.add_argument("point", choices=POINTS)
    p.add_argument("nth", type=int)
    p.add_argument("--delay-ms", type=float, default=5.0)
    p.add_argument("--slice", type=int, default=0, help="rag.ingest.store.SLICE")
    args = p.parse_args(ours)
    import rag.ingest.store
    from rag.cli import main as rag_main

    if args.slice:
        rag.ingest.store.SLICE = args.slice
    install(args.point, args.nth, args.delay_ms)
    code = rag_main(rest or ["ingest"])
    if args.point != "none":
        _log(args.point, "never reached")
    return code


if __name__ == "__main__":
    sys.exit(main())
