"""Reusable lexical answer metrics.

Each function names the reference implementation it reproduces, because the same
word ("F1", "BLEU-1") means different numbers in different LLM-memory papers:

- ``normalize_answer`` / ``token_f1`` / ``f1_multi``: LoCoMo's official QA scorer
  (snap-research/locomo, ``task_eval/evaluation.py``).
- ``f1_set`` / ``bleu1`` / ``rouge_l``: the extras reported by the A-Mem harness
  (WujiangXu/AgenticMemory ``utils.py``) and copied into Mem0's evaluation
  (mem0ai/mem0 ``evaluation/metrics/utils.py``).
"""

from __future__ import annotations

import string
import unicodedata
from collections import Counter
from functools import lru_cache

# The `regex` module (a hard dependency of nltk) is what the official scorer uses for
# the article pattern; its \b treats combining marks as word characters, unlike `re`.
import regex
from nltk.stem import PorterStemmer
from nltk.tokenize import NLTKWordTokenizer
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

__all__ = [
    "normalize_answer",
    "stem",
    "token_f1",
    "f1_multi",
    "f1_set",
    "bleu_tokens",
    "bleu1",
    "rouge_tokens",
    "rouge_l",
    "normalize_words",
    "contains_words",
]

_STEMMER = PorterStemmer()  # NLTK default mode (NLTK_EXTENSIONS), as in the official code
_PUNCT = frozenset(string.punctuation)  # ASCII only: curly quotes, dashes etc. survive
_ARTICLES = regex.compile(r"\b(?:a|an|the|and)\b")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Porter stem of one token; cached because answers repeat the same few words."""
    return _STEMMER.stem(word)


# --------------------------------------------------------------------------- official


def normalize_answer(s: str) -> str:
    """LoCoMo normalisation, steps in the official order.

    1. delete every ',' (so "1,000" -> "1000", and "x,y" fuses into "xy");
    2. lowercase; 3. delete ASCII punctuation (``string.punctuation``);
    4. replace the whole words a / an / the / and by a space; 5. collapse whitespace.
    Articles go after punctuation, so "the." and "(a)" are removed too.
    """
    s = s.replace(",", "").lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _stemmed_tokens(text: str) -> list[str]:
    return [stem(w) for w in normalize_answer(text).split()]


def token_f1(prediction: str, gold: str) -> float:
    """Official token F1: multiset overlap of Porter-stemmed normalised tokens.

    0.0 whenever nothing overlaps, including when either side normalises to empty
    (so an empty prediction against an empty gold is 0, not 1).
    """
    pred = _stemmed_tokens(prediction)
    ref = _stemmed_tokens(gold)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(ref)
    return 2 * precision * recall / (precision + recall)


def f1_multi(prediction: str, gold: str) -> float:
    """Official category-1 (multi-hop) F1 over comma-separated parts.

    Both strings are split on the raw ',' *before* normalisation; each gold part
    gets its best ``token_f1`` over the prediction parts; the result is the mean
    over gold parts. A prediction part may serve several gold parts, and an
    empty gold part (e.g. a trailing comma) always scores 0.
    """
    pred_parts = [p.strip() for p in prediction.split(",")]
    gold_parts = [g.strip() for g in gold.split(",")]
    best = [max(token_f1(p, g) for p in pred_parts) for g in gold_parts]
    return sum(best) / len(best)


# ----------------------------------------------------------------------------- extras


def _simple_tokens(text: str) -> set[str]:
    # A-Mem/Mem0 `simple_tokenize`: lowercase, turn only . , ! ? into spaces, split on
    # whitespace. No stemming, no article removal, other punctuation stays attached
    # ("caroline's", "(yes)"). Reproduced as-is so f1_set matches their "F1" column.
    for ch in ".,!?":
        text = text.replace(ch, " ")
    return set(text.lower().split())


def f1_set(prediction: str, gold: str | int) -> float:
    """Set-based token F1 as in the A-Mem and Mem0 harnesses (their "F1").

    Duplicates count once; 0.0 if either side has no tokens or nothing overlaps.
    ``gold`` may be an int because those harnesses ``str()`` the answer first.
    """
    pred = _simple_tokens(str(prediction))
    ref = _simple_tokens(str(gold))
    if not pred or not ref:
        return 0.0
    common = len(pred & ref)
    if common == 0:
        return 0.0
    precision = common / len(pred)
    recall = common / len(ref)
    return 2 * precision * recall / (precision + recall)


_WORD_TOKENIZER = NLTKWordTokenizer()
_SENTENCE_END = regex.compile(r"(?<=\.)\s+")
_SMOOTH = SmoothingFunction().method1


def bleu_tokens(text: str) -> list[str]:
    """Stand-in for ``nltk.word_tokenize(text.lower())`` that needs no punkt data.

    word_tokenize = punkt sentence split + NLTKWordTokenizer (regex Treebank rules)
    per sentence. We keep the Treebank step unchanged and replace punkt by a regex
    split after '.' + whitespace, which matters only because Treebank detaches a
    period solely at the end of its input. Known gap: punkt does not split after
    abbreviations it knows ("dr. smith"), we do, so such periods become separate
    tokens here. Single-sentence answers tokenise exactly as word_tokenize.
    """
    tokens: list[str] = []
    for sentence in _SENTENCE_END.split(str(text).lower()):
        tokens.extend(_WORD_TOKENIZER.tokenize(sentence))
    return tokens


def bleu1(prediction: str, gold: str | int) -> float:
    """Sentence BLEU-1 as in A-Mem/Mem0: NLTK ``sentence_bleu`` with weights
    (1, 0, 0, 0) and ``SmoothingFunction().method1``.

    That is brevity penalty x clipped unigram precision; NLTK returns 0 when no
    unigram matches (smoothing never applies to the unigram order).
    """
    pred = bleu_tokens(str(prediction))
    ref = bleu_tokens(str(gold))
    if not pred or not ref:  # A-Mem returns 0 for empty strings before calling NLTK
        return 0.0
    return float(sentence_bleu([ref], pred, weights=(1, 0, 0, 0), smoothing_function=_SMOOTH))


_NON_ALNUM = regex.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """Tokenisation of ``rouge_score`` (Google) with ``use_stemmer=True``, as A-Mem's
    ``rougeL_f`` uses it: lowercase, anything outside [a-z0-9] becomes a space (so
    non-ASCII letters vanish), Porter-stem only tokens longer than 3 characters."""
    words = _NON_ALNUM.sub(" ", str(text).lower()).split()
    return [stem(w) if len(w) > 3 else w for w in words]


def _lcs_length(a: list[str], b: list[str]) -> int:
    # One-row dynamic programme: O(len(a) * len(b)) time, O(len(b)) memory.
    row = [0] * (len(b) + 1)
    for x in a:
        prev_diag = 0
        for j, y in enumerate(b, start=1):
            prev_row_j = row[j]
            row[j] = prev_diag + 1 if x == y else max(row[j], row[j - 1])
            prev_diag = prev_row_j
    return row[-1]


def rouge_l(prediction: str, gold: str | int) -> float:
    """Sentence-level ROUGE-L F-measure: LCS of ``rouge_tokens``,
    P = LCS/len(pred), R = LCS/len(gold), F = 2PR/(P+R); 0.0 if either is empty."""
    pred = rouge_tokens(str(prediction))
    ref = rouge_tokens(str(gold))
    if not pred or not ref:
        return 0.0
    lcs = _lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision = lcs / len(pred)
    recall = lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


# ---- word-level matching (HaluMem's exact judge, the oracle ceiling) -------------------------
_PUNCT_RE = regex.compile(r"[^\w\s]")
_ARTICLE_WORDS = {"a", "an", "the"}


def normalize_words(text: str) -> str:
    """Canonical form for text matching: lowercase, apostrophes dropped ("don't" -> "dont"),
    other punctuation -> space, articles removed, whitespace collapsed."""
    t = unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("\u2019", "")
    return " ".join(w for w in _PUNCT_RE.sub(" ", t).split() if w not in _ARTICLE_WORDS)


def contains_words(haystack: str, needle: str) -> bool:
    """Whole-word containment of normalized `needle` in normalized `haystack`."""
    n = normalize_words(needle)
    return bool(n) and f" {n} " in f" {normalize_words(haystack)} "
