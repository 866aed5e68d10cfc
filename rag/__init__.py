"""Offline retrieval-augmented Q&A over your own documents, with sentence-level citations."""

import os as _os

__version__ = "0.1.0"

# Must be set before torch or llama.cpp are imported, which is why it lives here: without
# OMP_WAIT_POLICY=PASSIVE, OpenMP threads spin and a busy 2-core machine slows down 5-40x.
for _key, _value in {
    "OMP_WAIT_POLICY": "PASSIVE",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # model loading bars; ingest has its own
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    _os.environ.setdefault(_key, _value)
