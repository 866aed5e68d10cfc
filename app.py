"""The chat in the browser: `python app.py` indexes the docs folder (incrementally, with
progress) and serves the chat on 127.0.0.1:7860 (RAG_HOST / RAG_PORT, or --host / --port).

    python app.py [--port 8080] [--docs DIR] [--host ADDRESS] [--answerer llm|extractive] [-v]

A thin entry: the chat is the package rag.web (server.py starts it, page.py builds the page,
session.py is its behaviour over the engine, render.py its HTML). The chat is also an API
endpoint, "/ask", returning the JSON of `rag ask --json` (see the README for a gradio_client
example).
"""

import sys

import rag  # noqa: F401  (sets the offline and thread environment before gradio/torch load)
from rag.web.server import main

if __name__ == "__main__":
    sys.exit(main())
