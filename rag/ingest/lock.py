"""One ingest at a time per index folder, across processes: an advisory lock (flock) on
`ingest.lock` in the index folder, which also records who holds it, so the one that has to wait
can say for whom. The kernel drops the lock when its holder dies, `kill -9` included, so a
crashed ingest never leaves the index locked.

On a Chroma server the lock covers the processes that share this machine's index folder (the
app and `rag ingest` with the same cache); a replica on another machine is not locked out, and
relies on the writes being idempotent (upserts by stable ids, states committed last).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rag.errors import RagError

LOCK_FILE = "ingest.lock"


class IndexBusy(RagError):
    """Another process is updating this index; the message says which."""


def holder(path: Path) -> str:
    """Who holds (or last held) the lock, as a phrase: "`rag ingest` (pid 1234, for 12 s)"."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        since = max(0, int(time.time() - float(info["since"])))
        return f"{info['command']} (pid {int(info['pid'])}, for {since} s)"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _command() -> str:
    """What this process is, for the message of one that waits: `rag ingest`, `app.py`."""
    argv = sys.argv or ["python"]
    words = [Path(argv[0]).name, *(a for a in argv[1:2] if not a.startswith("-"))]
    return "`" + " ".join(words) + "`"


@contextlib.contextmanager
def ingest_lock(index_dir: Path, wait: bool = True) -> Iterator[None]:
    """Hold the index folder's ingest lock. Without `wait`, IndexBusy when another process
    holds it; with it, block until that one finishes."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise IndexBusy(f"{holder(path)} is updating the index at '{index_dir}'") from None
            fcntl.flock(fd, fcntl.LOCK_EX)
        info = {"pid": os.getpid(), "command": _command(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
