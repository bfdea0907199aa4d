"""MinHash and LSH bands: near-duplicate templates share band keys, unrelated prompts none; stable."""

import random
import subprocess
import sys

from gateway.detect.masking import mask
from gateway.detect.minhash import BANDS, bands, fingerprint, shingles, signature

TEMPLATES = [
    "You are grading a student. Read the answer from {name} to question {n} and explain step by step "
    "whether it is correct, then give a score out of {m} with a short justification for the teacher.",
    "Write a Python function named solve_{n} that takes a list of {m} integers and returns the longest "
    "increasing subsequence, with docstring, type hints and three unit tests for {name}.",
    "Translate the following customer message from {name} into German, keep the tone formal and the "
    "order number {n} unchanged, and list any words you were unsure about at the end.",
    "Extract every company, person and amount from this invoice dated {n} for {name} and return them "
    "as a JSON object with keys companies, people and amounts in euros, total {m}.",
    "Prove that for every integer n greater than {n} the sum of the first n odd numbers equals n squared, "
    "and show each step of the induction clearly for {name} who is a beginner.",
    "Summarise the attached meeting notes for {name} in at most {n} bullet points, highlight decisions "
    "and owners, and flag anything that needs a follow-up before day {m} of the project.",
]
FIRST = ["Ada", "Wang", "Marie", "Olu", "Priya", "Jonas", "Sofia", "Kenji", "Amara", "Luca"]
LAST = ["Lovelace", "Wei", "Curie", "Adeyemi", "Sharma", "Berg", "Rossi", "Tanaka", "Okafor", "Bianchi"]
TOPICS = ["physics", "history", "biology", "poetry", "economics", "chemistry", "geography", "music"]


def filled(template: str, rng: random.Random) -> str:
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return template.format(name=name, n=rng.randint(1, 10_000), m=rng.randint(2, 500))


def shared(a: str, b: str) -> int:
    return len(set(bands(mask(a))) & set(bands(mask(b))))


def test_same_skeleton_different_numbers_and_names_share_every_band() -> None:
    rng = random.Random(16)
    pairs = [(filled(t, rng), filled(t, rng)) for t in TEMPLATES for _ in range(6)]  # 36 pairs
    assert all(a != b for a, b in pairs)
    rates = [shared(a, b) / BANDS for a, b in pairs]
    assert sum(rates) / len(rates) == 1.0


def test_systematic_variation_of_one_word_still_collides() -> None:
    rng = random.Random(8)
    pairs = []
    for t in TEMPLATES:
        for _ in range(5):  # 30 pairs: one content word differs (a topic), the rest is the template
            a, b = rng.sample(TOPICS, 2)
            text = filled(t, rng)
            pairs.append((text + f" The subject is {a}.", text + f" The subject is {b}."))
    hits = [shared(a, b) > 0 for a, b in pairs]
    assert sum(hits) / len(hits) >= 0.9


WORDS = (
    "river market engine violet harbor candle orbit lemon fabric thunder saddle pixel glacier "
    "ledger meadow copper signal lantern quarry velvet walnut cipher beacon tunnel marble falcon "
    "garden socket planet rocket mirror timber anchor basket canyon desert"
)


def test_unrelated_prompts_share_no_band() -> None:
    rng = random.Random(3)
    words = WORDS.split()
    prompts = [" ".join(rng.choice(words) for _ in range(30)) for _ in range(30)]
    prompts += [filled(t, rng) for t in TEMPLATES]
    collisions = [
        (i, j)
        for i in range(len(prompts))
        for j in range(i + 1, len(prompts))
        if shared(prompts[i], prompts[j])
    ]
    assert len(prompts) * (len(prompts) - 1) // 2 == 630 and collisions == []


def test_short_prompts_are_one_shingle() -> None:
    assert shingles(["a", "b"]) == ["a b"]
    assert shingles([]) == []
    assert signature("") is None and bands("") == ()
    assert len(bands("hi there")) == BANDS


def test_keys_are_the_same_in_another_process() -> None:
    text = mask(filled(TEMPLATES[0], random.Random(1)))
    code = (
        "import sys; from gateway.detect.minhash import bands, fingerprint; "
        "t = sys.stdin.read(); print(fingerprint(t), *bands(t))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=text, capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""}, cwd=sys.path[0] or None,
    )  # fmt: skip
    assert out.stdout.split() == [str(fingerprint(text)), *map(str, bands(text))]
    assert all(-(2**63) <= k < 2**63 for k in bands(text))


def test_band_keys_are_the_stored_ones() -> None:
    """The keys are stored (call_features.bands) and compared across releases: a faster computation
    must give the very same values as the ones already in a ledger (these came from the first one)."""
    assert bands("write a poem about <NUM> cats in the style of <NAME>") == (
        -5507962570373839150, -2903699933545644497, -6049736319348123300, -7501284681672384161,
        -1959133267346497339, 8426385003033558578, -2777838288611549049, 6314294282199214519,
        573387015692819282, -8434157769356079221, 7311379068599049924, -6540933606713201954,
        -4022036736371711960, 7066497752519572796, 8778373977095822011, -4283814391675600081,
    )  # fmt: skip
