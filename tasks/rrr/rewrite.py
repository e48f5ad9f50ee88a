"""Rule-based foils for the rrr pack: one-word synonym swaps and lexical paraphrases.

Rules (documented in data_cards/rrr.md):
- synonym swap: exactly one word whose lowercase form is in SYNONYMS is replaced by its
  synonym (capitalisation kept); the word is picked by the seeded generator.
- paraphrase: EVERY table word is replaced and every contraction in CONTRACTIONS is expanded
  ("I'm" -> "I am"); a sentence qualifies only with at least MIN_PARAPHRASE_EDITS edits, so
  a paraphrase always differs from the one-word swap. This is a meaning-preserving lexical
  rewrite, weaker than the human/LLM paraphrases of Orhan (2023): word order is kept.
"""

from __future__ import annotations

import numpy as np
import regex

MIN_PARAPHRASE_EDITS = 3

SYNONYMS: dict[str, str] = {
    "about": "regarding", "absolutely": "totally", "amazing": "incredible", "awesome": "fantastic",
    "beautiful": "lovely", "begin": "start", "believe": "think", "big": "large",
    "buy": "purchase", "chance": "opportunity", "child": "kid", "children": "kids",
    "choose": "pick", "cool": "neat", "definitely": "certainly",
    "delicious": "tasty", "difficult": "hard", "enjoy": "like", "enough": "sufficient",
    "especially": "particularly", "exciting": "thrilling", "excited": "thrilled",
    "fantastic": "wonderful", "fast": "quick", "finally": "at last",
    "friends": "pals", "fun": "enjoyable", "glad": "happy", "good": "nice", "great": "terrific",
    "happy": "glad", "help": "assist", "helps": "assists", "huge": "enormous",
    "idea": "notion", "important": "significant", "incredible": "amazing", "journey": "trip",
    "just": "simply", "kids": "children", "large": "big", "learn": "discover",
    "little": "small", "lot": "great deal",
    "love": "adore", "loved": "adored", "maybe": "perhaps", "moment": "instant",
    "mostly": "largely", "nice": "pleasant", "often": "frequently", "passion": "enthusiasm",
    "pretty": "quite", "proud": "pleased", "quickly": "rapidly", "quite": "rather",
    "really": "truly", "recently": "lately", "sad": "unhappy",
    "scared": "afraid", "show": "display", "small": "little", "smart": "clever",
    "special": "unique", "start": "begin", "started": "began",
    "stuff": "things", "super": "extremely", "sure": "certain", "talk": "chat",
    "thanks": "thank you", "tough": "difficult", "totally": "completely", "trip": "journey",
    "try": "attempt", "tried": "attempted", "unique": "distinctive", "use": "utilize",
    "very": "really", "want": "wish", "wanted": "wished", "wonderful": "marvelous",
    "world": "globe", "worried": "anxious", "wow": "whoa", "yeah": "yes",
}
CONTRACTIONS: dict[str, str] = {
    "i'm": "I am", "i've": "I have", "i'll": "I will", "i'd": "I would", "it's": "it is",
    "that's": "that is", "you're": "you are", "you've": "you have", "we're": "we are",
    "they're": "they are", "don't": "do not", "doesn't": "does not", "didn't": "did not",
    "can't": "cannot", "won't": "will not", "isn't": "is not", "wasn't": "was not",
    "what's": "what is", "there's": "there is", "let's": "let us", "haven't": "have not",
}
_TOKEN = regex.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)?")


def _match_case(src: str, repl: str) -> str:
    if src.isupper() and len(src) > 1:
        return repl.upper()
    if src[0].isupper():
        return repl[0].upper() + repl[1:]
    return repl


def _norm(word: str) -> str:
    return word.lower().replace("\u2019", "'")


def swap_sites(text: str) -> list[tuple[int, int, str]]:
    """(start, end, synonym) of every swappable word."""
    return [(m.start(), m.end(), SYNONYMS[_norm(m.group())]) for m in _TOKEN.finditer(text)
            if _norm(m.group()) in SYNONYMS]


def paraphrase_sites(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _TOKEN.finditer(text):
        w = _norm(m.group())
        repl = SYNONYMS.get(w) or CONTRACTIONS.get(w)
        if repl is not None:
            out.append((m.start(), m.end(), repl))
    return out


def _apply(text: str, sites: list[tuple[int, int, str]]) -> str:
    for start, end, repl in sorted(sites, reverse=True):  # right to left keeps offsets valid
        repl = repl if repl[0].isupper() else _match_case(text[start:end], repl)
        text = text[:start] + repl + text[end:]
    return text


def synonym_swap(text: str, rng: np.random.Generator) -> str | None:
    sites = swap_sites(text)
    if not sites:
        return None
    return _apply(text, [sites[int(rng.integers(len(sites)))]])


def paraphrase(text: str) -> str | None:
    sites = paraphrase_sites(text)
    if len(sites) < MIN_PARAPHRASE_EDITS:
        return None
    return _apply(text, sites)


def letter_shuffle(text: str, rng: np.random.Generator) -> str:
    """Gibberish: the letters of `text` permuted across the whole string; spaces, digits and
    punctuation stay in place (same length and word-length profile, no words)."""
    chars = list(text)
    pos = [i for i, ch in enumerate(chars) if ch.isalpha()]
    letters = [chars[i].lower() for i in pos]
    for i, j in zip(pos, rng.permutation(len(letters)).tolist()):
        chars[i] = letters[j]
    return "".join(chars)
