"""llama.cpp's evaluated prompt (its KV cache) saved to a file and loaded back: a long fixed
prompt prefix is evaluated once per machine, not once per process (see LlamaCppLLM.warm_up).
About 20 MB for 700 tokens; the few most recent files are kept."""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

KEEP_FILES = 8


def holds(model: Any, tokens: list[int]) -> bool:
    """Does the `llama_cpp.Llama` model's cache hold these tokens (as a prefix)?"""
    n = len(tokens)
    return model.n_tokens >= n and list(model.input_ids[:n]) == tokens


def load(model: Any, path: Path) -> bool:
    """Loads a saved state into the model; False (the cache emptied) when it is unreadable."""
    from llama_cpp import llama_cpp as C

    capacity = model.n_ctx()
    tokens = (C.llama_token * capacity)()
    count = ctypes.c_size_t(0)
    if not C.llama_state_load_file(
        model._ctx.ctx, str(path).encode(), tokens, capacity, ctypes.byref(count)
    ):
        log.warning("ignoring unreadable prompt cache %s", path)
        model.reset()
        return False
    model.input_ids[: count.value] = tokens[: count.value]
    model.n_tokens = count.value
    model._requires_eval = True  # logits are not part of the state: re-run the last token
    log.info("restored %d prompt tokens from %s", count.value, path.name)
    return True


def save(model: Any, path: Path) -> None:
    """Saves what the model has evaluated, atomically, and drops the oldest files."""
    from llama_cpp import llama_cpp as C

    n = model.n_tokens
    tokens = (C.llama_token * n)(*model.input_ids[:n].tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    if C.llama_state_save_file(model._ctx.ctx, str(tmp).encode(), tokens, n):
        os.replace(tmp, path)
        old = sorted(path.parent.glob("*.state"), key=lambda p: p.stat().st_mtime)
        for stale in old[:-KEEP_FILES]:
            stale.unlink(missing_ok=True)
    else:
        tmp.unlink(missing_ok=True)
