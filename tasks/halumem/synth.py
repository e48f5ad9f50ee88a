"""`halumem-synth`: memeval's own offline generator in the HaluMem schema (never HaluMem itself).

Every gold memory point is stated verbatim by the USER in its own session, interference facts are
stated only by the ASSISTANT, and every gold answer appears verbatim in an evidence point. So an
oracle that stores the gold points scores R = 1, FMR = 1 and answers every question: the data
doubles as a sanity check of the protocol, judges and metrics.

Deterministic: the same (size, seed, Faker version) gives byte-identical JSONL. Faker (seeded
per user) supplies names, places and employers when installed; built-in lists otherwise.
"""

from __future__ import annotations

import json
import random
import uuid as uuidlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from memeval.errors import UserError
from memeval.tasks.halumem.schema import TIME_FORMAT, normalize

GENERATOR_VERSION = "1"
SIZES: dict[str, tuple[int, int]] = {"tiny": (2, 3), "small": (5, 8), "medium": (20, 24)}

HOBBIES = ["rock climbing", "pottery", "birdwatching", "salsa dancing", "chess", "kayaking",
           "watercolor painting", "woodworking", "urban gardening", "trail running", "archery",
           "beekeeping", "calligraphy", "fencing", "geocaching", "knitting", "origami",
           "scuba diving", "sailing", "stargazing", "tai chi", "bouldering", "film photography",
           "ice skating", "mountain biking", "crossword puzzles", "fly fishing", "bonsai",
           "stand-up paddleboarding", "choir singing"]
FOODS = ["mushroom risotto", "pad thai", "shakshuka", "lentil soup", "sushi rolls", "paella",
         "pierogi", "falafel wraps", "ramen", "tamales", "goulash", "bibimbap", "moussaka",
         "pho", "jollof rice", "ceviche", "lasagna", "dumplings", "chana masala", "empanadas",
         "banh mi", "poutine", "katsu curry", "tagine", "borscht", "arepas", "laksa",
         "spanakopita", "gnocchi", "enchiladas"]
COURSES = ["Italian language", "data visualization", "sign language", "bread baking",
           "first aid", "public speaking", "astronomy", "jazz piano", "creative writing",
           "ceramics", "digital marketing", "wine tasting", "Mandarin", "yoga teacher",
           "web design", "bookkeeping"]
PETS = ["beagle", "tabby cat", "parrot", "border collie", "rabbit", "greyhound"]
UNSTATED = ["blood type", "shoe size", "middle name", "favorite color", "childhood nickname",
            "license plate number", "lucky number", "first car"]
_FALLBACK_FIRST = ["Avery", "Jordan", "Morgan", "Riley", "Casey", "Quinn", "Harper", "Rowan"]
_FALLBACK_LAST = ["Lindqvist", "Okafor", "Marchetti", "Tanaka", "Delgado", "Novak", "Achebe"]
_FALLBACK_CITY = ["Port Ellis", "Marrowdale", "Fenwick", "Ashby Cove", "Kestrel Bay", "Orland"]
_FALLBACK_COMPANY = ["Northwind Labs", "Bluegate Foods", "Cedar Analytics", "Halcyon Freight"]
_FALLBACK_JOB = ["Civil engineer", "Pharmacist", "Archivist", "Landscape architect", "Actuary"]

# Mutable persona slots: how a fact is first stated, how an update states it, question forms.
SLOTS: dict[str, dict[str, str]] = {
    "city": {"fact": "{N} lives in {v}", "update": "{N} now lives in {v}",
             "ask": "Which city does {N} live in?", "ask_now": "Which city does {N} live in now?"},
    "employer": {"fact": "{N} works at {v}", "update": "{N} now works at {v}",
                 "ask": "Which company does {N} work for?",
                 "ask_now": "Which company does {N} work for now?"},
    "job": {"fact": "{N}'s job title is {v}", "update": "{N}'s job title is now {v}",
            "ask": "What is {N}'s job title?", "ask_now": "What is {N}'s job title now?"},
    "hobby": {"fact": "{N}'s favorite hobby is {v}", "update": "{N}'s favorite hobby is now {v}",
              "ask": "What is {N}'s favorite hobby?",
              "ask_now": "What is {N}'s favorite hobby now?"},
    "food": {"fact": "{N}'s favorite food is {v}", "update": "{N}'s favorite food is now {v}",
             "ask": "What is {N}'s favorite food?",
             "ask_now": "What is {N}'s favorite food now?"},
}
OPENERS = ["Something to remember about me:", "A quick note for you:", "By the way,",
           "For your records:", "Here is something new:"]
ACKS = ["Thanks for telling me, I will keep that in mind.", "Got it, that is good to know.",
        "Noted. Is there anything else you would like to share?", "Thank you for sharing that."]
SMALL_TALK = [("Hi again! How are you today?", "Hello! I am doing well. What is new with you?"),
              ("Good morning! I have a few minutes to chat.", "Good morning! I am all ears.")]


class _Values:
    """Fresh values per user; rejects any value that contains or is contained in a used one,
    so a distractor or an update can never be a substring of another fact."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self.rng = rng
        self.used: set[str] = set()
        try:
            from faker import Faker

            self.fake: Any = Faker("en_US")
            self.fake.seed_instance(seed)
        except ImportError:  # the generator stays usable without Faker (different values)
            self.fake = None

    def _clash(self, value: str) -> bool:
        v = f" {normalize(value)} "
        return any(v in f" {u} " or f" {u} " in v for u in self.used)

    def fresh(self, kind: str) -> str:
        for _ in range(500):
            value = self._draw(kind)
            if not self._clash(value):
                self.used.add(normalize(value))
                return value
        raise RuntimeError(f"halumem-synth: value pool for {kind!r} exhausted")

    def _draw(self, kind: str) -> str:
        f, r = self.fake, self.rng
        if kind.startswith("first"):
            if f is None:
                return f"{r.choice(_FALLBACK_FIRST)}{r.randint(2, 999)}"
            return {"first_Female": f.first_name_female,
                    "first_Male": f.first_name_male}.get(kind, f.first_name)()
        if kind == "last":
            return f.last_name() if f else f"{r.choice(_FALLBACK_LAST)}{r.randint(2, 999)}"
        if kind == "city":
            return f.city() if f else f"{r.choice(_FALLBACK_CITY)} {r.randint(2, 999)}"
        if kind == "employer":
            return f.company() if f else f"{r.choice(_FALLBACK_COMPANY)} {r.randint(2, 999)}"
        if kind == "job":
            return f.job() if f else f"{r.choice(_FALLBACK_JOB)} grade {r.randint(2, 999)}"
        return r.choice({"hobby": HOBBIES, "food": FOODS}[kind])

    def person(self, gender: str = "") -> str:
        first = self.fresh(f"first_{gender}" if gender else "first")
        return f"{first} {self.fresh('last')}"


def _day(d: datetime) -> str:
    return f"{d:%B} {d.day}, {d.year}"


class _UserGen:
    """Builds one user, session by session, tracking the point that currently holds each slot."""

    def __init__(self, seed: int, user_no: int) -> None:
        self.rng = random.Random(seed * 1_000_003 + user_no)
        self.vals = _Values(self.rng, seed * 1_000_003 + user_no)
        self.uuid = str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))
        self.gender = self.rng.choice(["Female", "Male"])
        self.N = self.vals.person(self.gender)
        self.value = {k: self.vals.fresh(k) for k in SLOTS}  # slot -> value now true
        self.current: dict[str, dict[str, Any]] = {}  # slot -> the point now true
        self.friend, self.sister = self.vals.person(), self.vals.person("Female")
        self.friend_city = self.vals.fresh("city")
        self.birth = datetime(1960, 1, 1) + timedelta(days=self.rng.randint(0, 14000))
        self.clock = datetime(2030, 1, 6, 9, 0, 0) + timedelta(days=self.rng.randint(0, 300))
        self.unstated = self.rng.sample(UNSTATED, len(UNSTATED))
        self.courses = self.rng.sample(COURSES, len(COURSES))

    # -- building blocks --------------------------------------------------------------------
    def _point(self, content: str, mtype: str, source: str, **extra: Any) -> dict[str, Any]:
        return {"index": 0, "memory_content": content, "memory_type": mtype,
                "memory_source": source, "is_update": "False", "original_memories": [],
                "timestamp": "", "importance": self.rng.choice([0.75, 0.75, 1.0]), **extra}

    @staticmethod
    def _q(question: str, answer: str, evidence: list[dict[str, Any]], difficulty: str,
           qtype: str) -> dict[str, Any]:
        ev = [{"memory_content": p["memory_content"], "memory_type": p["memory_type"]}
              for p in evidence]
        return {"question": question, "answer": answer, "evidence": ev,
                "difficulty": difficulty, "question_type": qtype}

    def _boundary(self) -> dict[str, Any]:
        attr = self.unstated.pop() if self.unstated else "blood type"
        return self._q(f"What is {self.N}'s {attr}?", "unknown", [], "medium", "Memory Boundary")

    def _interference(self, slot: str) -> tuple[dict[str, Any], str]:
        """A wrong value for a slot, asserted by the assistant (never by the user)."""
        true, wrong = self.current[slot], self.vals.fresh(slot)
        point = self._point(
            SLOTS[slot]["fact"].format(N=self.N, v=wrong), "Persona Memory", "interference",
            reason=f"The assistant asserts a {slot} the user never stated, contradicting "
                   f"the user's own statement.",
            # The referenced point may live in an earlier session; its index is local to it.
            reference_memory_content=true["memory_content"],
            reference_memory_index=true["index"], reference_memory_type=true["memory_type"])
        return point, wrong

    def _session(self, facts: list[dict[str, Any]], interference: list[dict[str, Any]],
                 questions: list[dict[str, Any]]) -> dict[str, Any]:
        self.clock += timedelta(days=self.rng.randint(3, 20), hours=self.rng.randint(0, 5))
        start, t = self.clock, self.clock
        pairs = [self.rng.choice(SMALL_TALK)]
        todo = list(facts)
        while todo:  # one or two facts per user turn, said verbatim after a short opener
            n = self.rng.randint(1, 2)
            take, todo = todo[:n], todo[n:]
            said = " ".join(f"{p['memory_content']}." for p in take)
            pairs.append((f"{self.rng.choice(OPENERS)} {said}", self.rng.choice(ACKS)))
        for k, p in enumerate(interference):  # appended to the assistant's replies
            at = 1 + k % (len(pairs) - 1)
            u, a = pairs[at]
            pairs[at] = (u, f"{a} Also, from what I remember, {p['memory_content']}.")
        dialogue = []
        for turn, (u, a) in enumerate(pairs):
            t += timedelta(minutes=self.rng.randint(1, 4), seconds=self.rng.randint(0, 59))
            for role, text in (("user", u), ("assistant", a)):
                dialogue.append({"role": role, "content": text,
                                 "timestamp": t.strftime(TIME_FORMAT), "dialogue_turn": turn})
        end = t.strftime(TIME_FORMAT)
        points = facts + interference
        for i, p in enumerate(points, start=1):
            p["index"], p["timestamp"] = i, end
        for k, p in enumerate(interference, start=1):
            p["source_memory_index"] = k
        session = {"start_time": start.strftime(TIME_FORMAT), "end_time": end,
                   "memory_points": points, "memory_points_count": len(points),
                   "dialogue": dialogue, "dialogue_turn_num": len(pairs),
                   # whitespace tokens: a cheap, deterministic stand-in for a tokenizer count
                   "dialogue_token_length": sum(len(m["content"].split()) for m in dialogue)}
        if questions:
            session["questions"], session["question_count"] = questions, len(questions)
        return session

    # -- the three session kinds ------------------------------------------------------------
    def intro(self) -> dict[str, Any]:
        N = self.N
        facts = [self._point(f"{N} was born on {_day(self.birth)}", "Persona Memory", "primary")]
        for slot, value in self.value.items():
            self.current[slot] = self._point(SLOTS[slot]["fact"].format(N=N, v=value),
                                             "Persona Memory", "primary")
            facts.append(self.current[slot])
        friend = self._point(f"{N}'s best friend is {self.friend}", "Relationship Memory",
                             "secondary")
        fcity = self._point(f"{self.friend} lives in {self.friend_city}", "Relationship Memory",
                            "secondary")
        sister = self._point(f"{N}'s sister is {self.sister}", "Relationship Memory", "secondary")
        facts += [friend, fcity, sister]
        slot = self.rng.choice(list(SLOTS))
        qs = [self._q(SLOTS[slot]["ask"].format(N=N), self.value[slot], [self.current[slot]],
                      "easy", "Basic Fact Recall"),
              self._q(f"In which city does {N}'s best friend live?", self.friend_city,
                      [friend, fcity], "hard", "Multi-hop Inference"),
              self._boundary()]
        return self._session(facts, [], qs)

    def life(self) -> dict[str, Any]:
        N, r = self.N, self.rng
        when = self.clock + timedelta(days=1)
        course = self.courses.pop() if self.courses else f"evening class {r.randint(2, 99)}"
        pet, pet_name = r.choice(PETS), self.vals.fresh("first")
        events = [(f"{N} started a {course} course on {_day(when)}",
                   f"What course did {N} start on {_day(when)}?", course),
                  (f"{N} adopted a {pet} named {pet_name}",
                   f"What is the name of the {pet} {N} adopted?", pet_name)]
        facts = [self._point(c, "Event Memory", "secondary") for c, _, _ in events]
        facts.append(self._point(f"{N}'s manager at work is {self.vals.person()}",
                                 "Relationship Memory", "secondary"))
        slot = r.choice(["city", "employer", "hobby", "food"])
        bad, wrong = self._interference(slot)
        k = r.randrange(len(events))
        pref = r.choice(["hobby", "food"])
        gen_q = (f"{N} has a free Saturday afternoon to spend on a hobby. Which activity would "
                 f"{N} most likely choose?" if pref == "hobby" else
                 f"A friend is cooking dinner for {N} and wants to serve {N}'s favorite food. "
                 f"Which dish should the friend make?")
        premise = SLOTS[slot]["fact"].format(N=N, v=wrong)
        qs = [self._q(events[k][1], events[k][2], [facts[k]], "easy", "Basic Fact Recall"),
              self._q(gen_q, self.value[pref], [self.current[pref]], "medium",
                      "Generalization & Application"),
              # False premise (the distractor of this session); the answer corrects it.
              self._q(f"I heard that {premise}. {SLOTS[slot]['ask'].format(N=N)}",
                      self.value[slot], [self.current[slot]], "medium", "Memory Conflict")]
        return self._session(facts, [bad], qs)

    def update(self) -> dict[str, Any]:
        N, r = self.N, self.rng
        changed = r.sample(list(SLOTS), r.choice([1, 2]))
        facts, qs = [], []
        for slot in changed:
            new = self.vals.fresh(slot)
            p = self._point(SLOTS[slot]["update"].format(N=N, v=new), "Persona Memory",
                            "secondary", original_memories=[self.current[slot]["memory_content"]])
            p["is_update"] = "True"
            facts.append(p)
            self.value[slot], self.current[slot] = new, p
            qs.append(self._q(SLOTS[slot]["ask_now"].format(N=N), new, [p], "medium",
                              "Dynamic Update"))
        facts.append(self._point(f"{N} visited {self.friend} on {_day(self.clock)}",
                                 "Event Memory", "secondary"))
        bad, _ = self._interference(r.choice([s for s in SLOTS if s not in changed]))
        qs.append(self._boundary())
        return self._session(facts, [bad], qs)

    def build(self, n_sessions: int) -> dict[str, Any]:
        sessions = [self.intro()]
        for i in range(1, n_sessions):
            sessions.append(self.life() if i % 2 == 1 else self.update())
        first = sessions[0]["memory_points"]  # the persona as of the first session, as in HaluMem
        persona = (f"Name: {self.N}; Gender: {self.gender}; Birth Date: {self.birth:%Y-%m-%d}; "
                   + "; ".join(p["memory_content"] for p in first[1:1 + len(SLOTS)]))
        return {"uuid": self.uuid, "persona_info": persona, "sessions": sessions,
                "total_dialogue_token_length": sum(s["dialogue_token_length"] for s in sessions),
                "total_question_count": sum(s.get("question_count", 0) for s in sessions)}


def generate(size: str, seed: int = 0) -> list[dict[str, Any]]:
    """Users (as JSON-ready dicts in the official schema) for a named size."""
    if size not in SIZES:
        raise UserError(f"unknown halumem-synth size {size!r} (valid: {', '.join(SIZES)})")
    n_users, n_sessions = SIZES[size]
    return [_UserGen(seed, i).build(n_sessions) for i in range(n_users)]


def write_jsonl(path: str | Path, size: str, seed: int = 0) -> Path:
    """Write one user per line; same (size, seed, Faker version) -> byte-identical file."""
    users = generate(size, seed)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8", newline="\n") as fh:
        for u in users:
            fh.write(json.dumps(u, ensure_ascii=False) + "\n")
    return p


def generator_info() -> dict[str, Any]:
    """Provenance for run manifests: output depends on the Faker version too."""
    try:
        from importlib.metadata import version

        faker_version: str | None = version("Faker")
    except Exception:
        faker_version = None
    return {"generator": "halumem-synth", "version": GENERATOR_VERSION, "faker": faker_version}


def main(argv: list[str] | None = None) -> int:
    """python -m memeval.tasks.halumem.synth --size tiny --seed 0 --out synth.jsonl"""
    import argparse

    ap = argparse.ArgumentParser(prog="halumem-synth", description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="tiny", help=f"one of {', '.join(SIZES)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    try:
        path = write_jsonl(args.out, args.size, args.seed)
    except UserError as e:
        ap.exit(2, f"halumem-synth: {e}\n")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
