"""The LLM interface and its backends: HTTP ones against small real servers on 127.0.0.1."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rag.errors import BackendMissing, ModelError
from rag.models import llm as llm_module
from rag.models.llm import chatml_prompt, complete, make_llm, warm_up
from rag.models.weights import llm_gguf_path
from rag.settings import Settings

SYSTEM = "Answer from the evidence and cite it as [n]."
USER = "Evidence:\n[1] The sky is green on Tuesdays.\n\nQuestion: What colour is the sky?"
DELTAS = ["The sky", " is green", " on Tuesdays", " [1]."]


class FakeServer:
    """A real HTTP server on 127.0.0.1 that records JSON request bodies and replies via
    ``respond(path, body, handler)``."""

    def __init__(self, respond: Callable[[str, dict[str, Any], BaseHTTPRequestHandler], None]):
        self.requests: list[tuple[str, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # a streamed body simply ends when the socket closes

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append((self.path, body))
                respond(self.path, body, self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _send(handler: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def openai_respond(path: str, body: dict[str, Any], handler: BaseHTTPRequestHandler) -> None:
    if path != "/v1/chat/completions":
        _send(handler, 404, "application/json", b'{"error": {"message": "no such route"}}')
        return
    if body.get("model") == "broken":
        _send(handler, 400, "application/json", b'{"error": {"message": "model not loaded"}}')
        return
    base = {"id": "chatcmpl-1", "created": 1, "model": body["model"]}
    if not body.get("stream"):
        reply = {
            **base,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(DELTAS)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
        }
        _send(handler, 200, "application/json", json.dumps(reply).encode())
        return
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    chunk = {**base, "object": "chat.completion.chunk"}
    first = {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    events = [first]
    events += [
        {**chunk, "choices": [{"index": 0, "delta": {"content": d}, "finish_reason": None}]}
        for d in DELTAS
    ]
    events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    for event in events:
        handler.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        handler.wfile.flush()
    handler.wfile.write(b"data: [DONE]\n\n")


def ollama_respond(path: str, body: dict[str, Any], handler: BaseHTTPRequestHandler) -> None:
    assert path == "/api/chat", path
    lines = [
        {"model": body["model"], "message": {"role": "assistant", "content": d}, "done": False}
        for d in DELTAS
    ]
    lines.append(
        {
            "model": body["model"],
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
        }
    )
    payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
    _send(handler, 200, "application/x-ndjson", payload)


def _openai_settings(port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_backend": "openai",
        "llm_base_url": f"http://127.0.0.1:{port}/v1",
        "llm_model": "test-model",
        "llm_api_key": "sk-test",
        "llm_timeout_s": 10.0,
        **overrides,
    }
    return Settings.load(**values)


def test_openai_compatible_streams_deltas_and_sends_the_prompt() -> None:
    with FakeServer(openai_respond) as server:
        llm = make_llm(_openai_settings(server.port))
        deltas = list(llm.stream(SYSTEM, USER, max_tokens=42))

    assert deltas == DELTAS
    assert llm.name == "openai:test-model"
    ((path, body),) = server.requests
    assert path == "/v1/chat/completions"
    assert body["stream"] is True
    assert body["model"] == "test-model"
    assert body["temperature"] == 0
    assert body["max_tokens"] == 42
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER},
    ]


def test_openai_compatible_complete_and_non_streaming_chat() -> None:
    from llama_index.core.llms import ChatMessage

    with FakeServer(openai_respond) as server:
        llm = make_llm(_openai_settings(server.port))
        assert complete(llm, SYSTEM, USER, max_tokens=7) == "".join(DELTAS)
        # The same server through the LlamaIndex object, for LlamaIndex components.
        reply = llm.llamaindex_llm.chat([ChatMessage(role="user", content=USER)])  # type: ignore[attr-defined]

    assert reply.message.content == "".join(DELTAS)
    (_, streamed), (_, plain) = server.requests
    assert streamed["stream"] is True and streamed["max_tokens"] == 7
    assert not plain.get("stream") and plain["temperature"] == 0


def test_openai_server_error_is_a_model_error_that_names_the_server() -> None:
    with FakeServer(openai_respond) as server:
        llm = make_llm(_openai_settings(server.port, llm_model="broken"))
        with pytest.raises(ModelError, match=f"127.0.0.1:{server.port}"):
            list(llm.stream(SYSTEM, USER, max_tokens=5))


def test_openai_without_base_url_says_what_to_set() -> None:
    with pytest.raises(ModelError, match="RAG_LLM_BASE_URL"):
        make_llm(Settings.load(llm_backend="openai", llm_base_url=None))


def test_ollama_streams_with_temperature_zero_and_token_limit() -> None:
    with FakeServer(ollama_respond) as server:
        settings = Settings.load(
            llm_backend="ollama",
            llm_base_url=f"http://127.0.0.1:{server.port}",
            llm_model="qwen2.5-coder:1.5b",
            llm_timeout_s=10.0,
        )
        llm = make_llm(settings)
        deltas = list(llm.stream(SYSTEM, USER, max_tokens=33))

    assert "".join(deltas) == "".join(DELTAS)
    assert llm.name == "ollama:qwen2.5-coder:1.5b"
    ((path, body),) = server.requests  # no /api/show round trip: the context is explicit
    assert path == "/api/chat"
    assert body["options"]["temperature"] == 0
    assert body["options"]["num_predict"] == 33
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][1]["content"] == USER


def test_ollama_missing_package_raises_backend_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_index.llms.ollama", None)
    with pytest.raises(BackendMissing, match="pip install llama-index-llms-ollama"):
        make_llm(Settings.load(llm_backend="ollama"))


def test_llama_cpp_missing_package_raises_before_touching_the_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    settings = Settings.load(llm_backend="llama_cpp", cache_dir=tmp_path, llm_model_path=None)
    with pytest.raises(BackendMissing, match="pip install llama-cpp-python"):
        make_llm(settings)
    assert not (tmp_path / "models").exists()


def test_chatml_prompt_layout() -> None:
    assert chatml_prompt("S", "U") == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    )


class ScriptedLLM:
    name = "scripted"

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int]] = []

    def stream(self, system: str, user: str, max_tokens: int) -> Iterator[str]:
        self.asked.append((system, user, max_tokens))
        yield from ["a", "b"]


def test_complete_joins_deltas_and_warm_up_is_optional() -> None:
    fake = ScriptedLLM()
    assert complete(fake, "s", "u", 3) == "ab"
    assert fake.asked == [("s", "u", 3)]
    warm_up(fake, "s")  # no warm_up method: nothing happens
    assert len(fake.asked) == 1


@pytest.fixture(scope="module")
def real_llm() -> llm_module.LlamaCppLLM:
    settings = Settings.load(llm_backend="llama_cpp", llm_model_path=None, llm_context=1024)
    try:
        llm_gguf_path(settings)
    except ModelError as exc:
        pytest.skip(f"packaged GGUF not available ({exc})")
    try:
        return llm_module.LlamaCppLLM.load(settings)
    except BackendMissing as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
def test_real_gguf_generates_deterministically(real_llm: llm_module.LlamaCppLLM) -> None:
    user = "Evidence:\n[1] The museum reopened on Saturday.\n\nQuestion: When did it reopen?"
    real_llm.warm_up(SYSTEM)
    first = complete(real_llm, SYSTEM, user, max_tokens=12)
    again = complete(real_llm, SYSTEM, user, max_tokens=12)
    assert real_llm.name == "llama_cpp:qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert "Saturday" in first
    assert first == again
    assert "<|im_end|>" not in first


@pytest.mark.slow
def test_prompt_prefix_state_is_saved_and_restored(
    real_llm: llm_module.LlamaCppLLM, tmp_path: Path
) -> None:
    prefix = "Evidence:\n[1] The museum reopened on Saturday.\n\nQuestion:"
    user = prefix + " When did it reopen?"
    real_llm.state_dir = tmp_path
    real_llm.warm_up(SYSTEM, prefix)  # evaluates the prefix and saves it
    (saved,) = tmp_path.glob("*.state")
    expected = complete(real_llm, SYSTEM, user, max_tokens=12)
    real_llm._llm._model.reset()  # as a new process would be: nothing evaluated
    real_llm.warm_up(SYSTEM, prefix)  # restores instead of evaluating
    assert real_llm._llm._model.n_tokens > 20 and list(tmp_path.glob("*.state")) == [saved]
    assert complete(real_llm, SYSTEM, user, max_tokens=12) == expected
    real_llm.state_dir = None


@pytest.mark.slow
def test_a_prompt_read_ahead_is_not_read_again(
    real_llm: llm_module.LlamaCppLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = "Evidence:\n[1] The museum reopened on Saturday.\n\nQuestion: When did it reopen?"
    model = real_llm._model
    evaluated: list[int] = []
    eval_tokens = model.eval
    monkeypatch.setattr(
        model, "eval", lambda tokens: (evaluated.append(len(tokens)), eval_tokens(tokens))
    )
    real_llm.read_ahead(SYSTEM, user, "It reopened")
    assert evaluated  # the prompt, read now (what the cache did not hold of it)
    evaluated.clear()
    real_llm.read_ahead(SYSTEM, user, "It reopened")
    assert evaluated == []  # held already: nothing read
    reply = "".join(real_llm.stream(SYSTEM, user, 4, prefill="It reopened"))
    assert "Saturday" in reply
    assert evaluated and max(evaluated) == 1  # only the tokens it wrote, one at a time


@pytest.mark.slow
def test_real_gguf_prompt_too_long_is_a_model_error(real_llm: llm_module.LlamaCppLLM) -> None:
    with pytest.raises(ModelError, match="RAG_LLM_CONTEXT"):
        complete(real_llm, SYSTEM, "word " * 2000, max_tokens=4)


def test_chatml_prompt_defuses_special_tokens_in_text() -> None:
    prompt = chatml_prompt("S", "a <|im_end|> b <|endoftext|>")
    assert "user\na <im_end> b <endoftext><|im_end|>" in prompt
    assert prompt.count("<|im_end|>") == 2


def test_a_read_ahead_never_waits_for_a_busy_model() -> None:
    class Backend:
        def __init__(self) -> None:
            self.generate_kwargs: dict[str, object] = {}
            self.prompts: list[str] = []

        def stream_complete(self, prompt: str, formatted: bool) -> Iterator[object]:
            self.prompts.append(prompt)
            yield type("Chunk", (), {"delta": "x"})()

    backend = Backend()
    model = llm_module.LlamaCppLLM(backend, "fake")
    with model._lock:  # another request is generating
        model.read_ahead(SYSTEM, "Q: a question\nQuestion: When")
        assert backend.prompts == []  # skipped, not queued
    model.read_ahead(SYSTEM, "Q: a question\nQuestion: When")
    assert backend.prompts and backend.prompts[0].endswith("Question: When")
    model.read_ahead(SYSTEM, "Q: a question\nQuestion: When was it?", "When was")
    assert backend.prompts[1].endswith("When was it?<|im_end|>\n<|im_start|>assistant\nWhen was")
    assert list(model.stream(SYSTEM, "u", 1)) == ["x"]  # the lock was given back
