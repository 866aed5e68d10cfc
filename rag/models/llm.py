"""The text-generation LLM behind one small interface, and the one place that picks its backend.

Backends (``settings.llm.backend``), each imported only when chosen:

- ``llama_cpp`` (default): the packaged Qwen2.5-Coder-1.5B GGUF (or ``RAG_LLM_MODEL_PATH``) run
  in-process through LlamaIndex's ``LlamaCPP``. The model is loaded once per LLM object, and
  calls are serialised on it: llama.cpp keeps the KV cache of the previous prompt and re-uses
  the longest common token prefix, so a fixed system prompt (put it first, the varying part
  after) is evaluated once, not on every question. Set ``OMP_WAIT_POLICY=PASSIVE`` in the
  environment before importing llama_cpp or torch (the caller's job: CLI, app.py, bench);
  without it the OpenMP threads spin and a busy 2-core machine slows down several times.
- ``openai``: any OpenAI-compatible server (llama.cpp server, vLLM, LM Studio ...) through
  ``OpenAILike``, at ``RAG_LLM_BASE_URL`` (for example ``http://127.0.0.1:8080/v1``).
- ``ollama``: an Ollama server through LlamaIndex's ``Ollama``.

All are asked for temperature 0, so the same question gives the same answer.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from rag.errors import BackendMissing, ModelError
from rag.models import kv_state
from rag.models.turnstile import Turnstile
from rag.models.weights import llm_gguf_path

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"

# Qwen2.5 speaks ChatML; <|im_end|> is its end-of-turn token, so it is also the stop sequence.
_CHATML_STOP = ["<|im_end|>", "<|endoftext|>", "<|im_start|>"]


class LLM(Protocol):
    """A deterministic (temperature 0) text generator used by the answer writer."""

    name: str
    """Identity for reports, e.g. ``llama_cpp:qwen2.5-coder-1.5b-instruct-q4_k_m``."""

    def stream(self, system: str, user: str, max_tokens: int, prefill: str = "") -> Iterator[str]:
        """Yields the reply as text deltas. Put what stays the same in ``system``. ``prefill``
        is the start of the reply, already known: a backend that can continue from it yields
        only the rest; one that cannot (a chat server) yields a whole reply."""
        ...


def complete(llm: LLM, system: str, user: str, max_tokens: int) -> str:
    """The whole answer at once."""
    return "".join(llm.stream(system, user, max_tokens))


def warm_up(llm: LLM, system: str, user_prefix: str = "") -> None:
    """Pre-evaluates the fixed start of the prompt (the system prompt and, when given, the start
    of the user message) and keeps it, where the backend keeps a prefix cache; else no-op."""
    hook = getattr(llm, "warm_up", None)
    if callable(hook):
        hook(system, user_prefix)


def read_ahead(llm: LLM, system: str, user: str, reply_start: str | None = None) -> None:
    """Pre-evaluates a prompt expected soon, where the backend keeps a prefix cache (skipped
    when it is busy): `user` is the start of the user message, or, with `reply_start`, the
    whole of it followed by the known start of the reply."""
    hook = getattr(llm, "read_ahead", None)
    if callable(hook):
        hook(system, user, reply_start)


def turnstile_of(llm: object) -> Turnstile | None:
    """The line of requests waiting for this LLM, where it has one (an in-process model that
    answers one request at a time); None for a server, which queues requests itself."""
    turnstile = getattr(llm, "turnstile", None)
    return turnstile if isinstance(turnstile, Turnstile) else None


def chatml_prompt(system: str, user: str) -> str:
    """A Qwen2.5 ChatML prompt ending where the assistant's turn begins.

    Text that spells a special token (``<|im_end|>`` in a document, say) is defused first:
    llama.cpp parses special tokens in the prompt, so it could otherwise end a turn early.
    """
    return (
        f"<|im_start|>system\n{_defuse(system)}<|im_end|>\n"
        f"<|im_start|>user\n{_defuse(user)}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


_SPECIAL_TOKEN = re.compile(r"<\|([A-Za-z0-9_]+)\|>")


def _defuse(text: str) -> str:
    return _SPECIAL_TOKEN.sub(r"<\1>", text)


def make_llm(settings: Settings) -> LLM:
    """The LLM that ``settings.llm.backend`` names, ready to use.

    For ``llama_cpp`` this loads the model (a few seconds; the first run also assembles the
    packaged GGUF, see :func:`rag.models.weights.llm_gguf_path`), so build it once and keep it.
    Raises BackendMissing when the backend's package is not installed, ModelError when the
    model or server settings are unusable.
    """
    backend = settings.llm.backend
    if backend == "llama_cpp":
        return LlamaCppLLM.load(settings)
    if backend == "openai":
        return _openai_llm(settings)
    if backend == "ollama":
        return _ollama_llm(settings)
    raise ModelError(f"unknown RAG_LLM_BACKEND {backend!r}: use llama_cpp, openai or ollama")


def _import(module: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendMissing(
            f"the LLM backend needs the package {package}: run `pip install {package}` "
            f"(import of {module} failed: {exc})"
        ) from exc


class LlamaCppLLM:
    """A GGUF model run in-process by llama.cpp, through LlamaIndex's ``LlamaCPP``.

    ``LlamaCPP`` holds one ``Llama`` and passes the prompt through unchanged
    (``formatted=True``), so consecutive calls re-use the common prefix (bench/bench_llm.py).
    Its gotchas (llama-index-llms-llama-cpp 0.7), handled here: it ignores per-call kwargs
    (max_tokens comes from its ``generate_kwargs``, set per call under the lock); it mutates
    that dict on every call (not safe for concurrent use); it would download a model when
    ``model_path`` is None (never the case here).
    """

    def __init__(self, backend: Any, name: str, state_dir: Path | None = None) -> None:
        self._llm = backend
        self.name = name
        self.state_dir = state_dir  # where evaluated prompt prefixes are kept between runs
        # One Llama object is not safe for concurrent use, and its KV cache is what makes the
        # shared prefix cheap: generations take turns.
        self._lock = threading.Lock()
        # Whole requests (an answer, a rewrite) take turns here, first come first served, and
        # a waiting one knows its place (rag/models/turnstile.py); the lock above is per call.
        self.turnstile = Turnstile()
        # Prefixes kept for good (prompt text, its tokens, its state file), longest first:
        # the answer prompt's and the condense prompt's take turns in the one KV cache.
        self._kept: list[tuple[str, list[int], Path]] = []

    @classmethod
    def load(cls, settings: Settings, **model_kwargs: Any) -> LlamaCppLLM:
        """Loads the model; ``model_kwargs`` override ``llama_cpp.Llama`` options (for bench/)."""
        _import("llama_cpp", "llama-cpp-python")
        module = _import("llama_index.llms.llama_cpp", "llama-index-llms-llama-cpp")
        path = llm_gguf_path(settings)
        options: dict[str, Any] = {
            "n_threads": settings.llm.threads,
            "n_threads_batch": settings.llm.threads,
            # Read the weights instead of mapping them: llama.cpp repacks the q4_K tensors for
            # the CPU, and with mmap the original mapped pages stay resident beside the copy.
            "use_mmap": False,
            **model_kwargs,
        }
        log.info("loading %s with %s, context %d", path, options, settings.llm.context)
        try:
            backend = module.LlamaCPP(
                model_path=str(path),
                temperature=0.0,
                max_new_tokens=settings.llm.max_tokens,
                context_window=settings.llm.context,
                generate_kwargs={"stop": list(_CHATML_STOP)},
                model_kwargs=options,
                messages_to_prompt=_messages_to_chatml,
                completion_to_prompt=lambda text: chatml_prompt("", text),
                verbose=False,
            )
        except ValueError as exc:  # llama_cpp raises ValueError for a file it cannot load
            raise ModelError(
                f"llama.cpp could not load {path}: {exc}; check that it is a GGUF file "
                "(delete it to have the packaged model assembled again)"
            ) from exc
        name = f"llama_cpp:{Path(path).stem}"
        return cls(backend, name, settings.index.cache_dir / "prompt-cache")

    def warm_up(self, system: str, user_prefix: str = "") -> None:
        """Evaluates the fixed start of the prompt now, so the first question only pays for its
        own tokens (and the weights are paged in before anyone waits), and keeps it: saved to
        a state file (`kv_state`), restored by the next process warming up with it (a one-shot
        `rag ask`) and by this one whenever a prompt starting with it finds the cache holding
        another (the condense step's, say)."""
        prefix = chatml_prompt(system, user_prefix).rsplit("<|im_end|>", 1)[0]
        key = hashlib.sha256(f"{self.name}\n{self._model.n_ctx()}\n{prefix}".encode())
        state = self.state_dir / f"{key.hexdigest()[:24]}.state" if self.state_dir else None
        with self._lock:
            restored = state is not None and state.exists() and kv_state.load(self._model, state)
        if not restored:
            for _ in self._generate(prefix, max_tokens=1):
                pass
            if state is not None:
                with self._lock:
                    kv_state.save(self._model, state)
        if state is not None and state.exists():
            tokens = self._model.tokenize(prefix.encode(), special=True)
            with self._lock:
                self._kept = sorted(
                    [k for k in self._kept if k[0] != prefix] + [(prefix, tokens, state)],
                    key=lambda k: -len(k[1]),
                )

    def read_ahead(self, system: str, user: str, reply_start: str | None = None) -> None:
        """Evaluates a prompt expected soon, as far as it is known, unless the model is busy
        (a read-ahead never makes anyone wait: not while requests hold or wait for their
        turn either) or holds it already."""
        if self.turnstile.busy():
            return
        prompt = chatml_prompt(system, user)
        prompt = prompt.rsplit("<|im_end|>", 1)[0] if reply_start is None else prompt + reply_start
        if not self._lock.acquire(blocking=False):
            return
        try:
            model = getattr(self._llm, "_model", None)
            if model is not None and kv_state.holds(
                model, model.tokenize(prompt.encode(), special=True)
            ):
                return
        finally:
            self._lock.release()
        for _ in self._generate(prompt, max_tokens=1, wait=False):
            pass

    @property
    def _model(self) -> Any:
        """The ``llama_cpp.Llama`` inside LlamaIndex's ``LlamaCPP``."""
        return self._llm._model

    def _restore_kept(self, prompt: str) -> None:
        """Under the lock: when `prompt` starts with a kept prefix that the cache no longer
        holds, restore that prefix's state (milliseconds) instead of evaluating it again."""
        for text, tokens, path in self._kept:
            if prompt.startswith(text):
                if not kv_state.holds(self._model, tokens) and path.exists():
                    kv_state.load(self._model, path)
                return

    @property
    def llamaindex_llm(self) -> Any:
        """The underlying LlamaIndex ``LlamaCPP`` (ChatML-aware), for LlamaIndex components.

        Calls through it bypass this object's lock: do not use both from different threads.
        """
        return self._llm

    def stream(self, system: str, user: str, max_tokens: int, prefill: str = "") -> Iterator[str]:
        return self._generate(chatml_prompt(system, user) + prefill, max_tokens)

    def _generate(self, prompt: str, max_tokens: int, wait: bool = True) -> Iterator[str]:
        # The lock is held while the caller iterates; a generator dropped half-way releases it
        # when it is closed or collected. Without `wait`, nothing is generated when it is held.
        if not self._lock.acquire(blocking=wait):
            return
        try:
            self._restore_kept(prompt)
            self._llm.generate_kwargs.update({"max_tokens": max_tokens, "temperature": 0.0})
            try:
                for chunk in self._llm.stream_complete(prompt, formatted=True):
                    if chunk.delta:
                        yield chunk.delta
            except ValueError as exc:
                if "exceed context window" not in str(exc):
                    raise
                raise ModelError(
                    f"the prompt is too long for the model's context ({exc}); shorten the "
                    "evidence or raise RAG_LLM_CONTEXT"
                ) from exc
        finally:
            self._lock.release()


def _messages_to_chatml(messages: Any) -> str:
    parts = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


class ChatServerLLM:
    """An LLM behind an HTTP server, reached through a LlamaIndex chat LLM."""

    def __init__(
        self,
        name: str,
        client_for: Callable[[int], tuple[Any, dict[str, Any]]],
        errors: tuple[type[BaseException], ...],
        where: str,
        default_max_tokens: int,
    ) -> None:
        self.name = name
        self._client_for = client_for
        self._errors = errors
        self._where = where
        self._default_max_tokens = default_max_tokens

    @property
    def llamaindex_llm(self) -> Any:
        """The underlying LlamaIndex LLM, for LlamaIndex components that want one."""
        return self._client_for(self._default_max_tokens)[0]

    def stream(self, system: str, user: str, max_tokens: int, prefill: str = "") -> Iterator[str]:
        """A whole reply: chat servers do not continue a given start of it (`prefill`)."""
        from llama_index.core.llms import ChatMessage, MessageRole

        client, kwargs = self._client_for(max_tokens)
        messages = [
            ChatMessage(role=MessageRole.SYSTEM, content=system),
            ChatMessage(role=MessageRole.USER, content=user),
        ]
        try:
            for chunk in client.stream_chat(messages, **kwargs):
                if chunk.delta:
                    yield chunk.delta
        except self._errors as exc:
            raise ModelError(
                f"the LLM server {self._where} failed: {type(exc).__name__}: {exc}; check that "
                "it is running and serves RAG_LLM_MODEL, or set RAG_LLM_BACKEND=llama_cpp"
            ) from exc


def _openai_llm(settings: Settings) -> ChatServerLLM:
    if not settings.llm.base_url:
        raise ModelError(
            "RAG_LLM_BACKEND=openai needs RAG_LLM_BASE_URL, the server's API root, "
            "e.g. http://127.0.0.1:8080/v1"
        )
    openai = _import("openai", "llama-index-llms-openai-like")
    module = _import("llama_index.llms.openai_like", "llama-index-llms-openai-like")
    # max_tokens stays None here: OpenAI._get_model_kwargs lets a constructor value override
    # the per-call one, so it is passed with each call instead.
    client = module.OpenAILike(
        model=settings.llm.model,
        api_base=settings.llm.base_url,
        api_key=settings.llm.api_key,
        is_chat_model=True,
        is_function_calling_model=False,
        context_window=settings.llm.context,
        temperature=0.0,
        max_tokens=None,
        timeout=settings.llm.timeout_s,
        max_retries=1,
    )
    return ChatServerLLM(
        name=f"openai:{settings.llm.model}",
        client_for=lambda max_tokens: (client, {"max_tokens": max_tokens}),
        errors=(openai.OpenAIError,),
        where=f"at {settings.llm.base_url}",
        default_max_tokens=settings.llm.max_tokens,
    )


def _ollama_llm(settings: Settings) -> ChatServerLLM:
    ollama = _import("ollama", "llama-index-llms-ollama")
    httpx = _import("httpx", "llama-index-llms-ollama")
    module = _import("llama_index.llms.ollama", "llama-index-llms-ollama")
    base_url = settings.llm.base_url or DEFAULT_OLLAMA_URL
    clients: dict[int, Any] = {}
    lock = threading.Lock()

    def client_for(max_tokens: int) -> tuple[Any, dict[str, Any]]:
        # Ollama.stream_chat ignores per-call options (they come from additional_kwargs), so
        # there is one client per max_tokens value; in practice one.
        with lock:
            if max_tokens not in clients:
                clients[max_tokens] = module.Ollama(
                    model=settings.llm.model,
                    base_url=base_url,
                    temperature=0.0,
                    # explicit, or every request first asks the server /api/show for it
                    context_window=settings.llm.context,
                    request_timeout=settings.llm.timeout_s,
                    additional_kwargs={"num_predict": max_tokens, "seed": 0},
                )
            return clients[max_tokens], {}

    return ChatServerLLM(
        name=f"ollama:{settings.llm.model}",
        client_for=client_for,
        errors=(ollama.ResponseError, ollama.RequestError, ConnectionError, httpx.HTTPError),
        where=f"(ollama at {base_url})",
        default_max_tokens=settings.llm.max_tokens,
    )
