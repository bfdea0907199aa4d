"""Words, prompts and system prompts for the traffic generator: pure functions of a ``random.Random``.

Ordinary prompts are assembled from large word pools so that two customers rarely write alike;
campaign templates are fixed skeletons whose slots (numbers, quoted strings, code, names) vary,
with a little paraphrase noise, as the labs describe distillation prompts.
"""

from __future__ import annotations

import random

FAMILIES = ("code", "math", "reasoning", "tools", "translation", "writing", "extraction", "chat")

NOUNS = [
    "invoice",
    "parser",
    "dashboard",
    "garden",
    "recipe",
    "contract",
    "budget",
    "playlist",
    "sensor",
    "drone",
    "ledger",
    "warehouse",
    "meeting",
    "schedule",
    "poem",
    "essay",
    "story",
    "cluster",
    "pipeline",
    "database",
    "schema",
    "report",
    "forecast",
    "survey",
    "tenant",
    "lease",
    "bicycle",
    "telescope",
    "vaccine",
    "enzyme",
    "bridge",
    "harbour",
    "festival",
    "museum",
    "library",
    "camera",
    "battery",
    "turbine",
    "satellite",
    "compiler",
    "kernel",
    "router",
    "firewall",
    "spreadsheet",
    "timeline",
    "itinerary",
    "portfolio",
    "mortgage",
    "thesis",
    "lecture",
    "quiz",
    "podcast",
    "newsletter",
    "banner",
    "logo",
    "mascot",
    "ticket",
    "refund",
    "shipment",
    "supplier",
    "customer",
    "patient",
    "clinic",
    "pharmacy",
    "orchard",
    "vineyard",
    "bakery",
    "brewery",
    "tractor",
    "reactor",
    "glacier",
    "volcano",
    "estuary",
    "prairie",
    "canyon",
    "lighthouse",
    "subway",
    "tramline",
    "airport",
    "runway",
]
VERBS = [
    "summarise",
    "rewrite",
    "explain",
    "draft",
    "refactor",
    "translate",
    "compare",
    "outline",
    "review",
    "debug",
    "optimise",
    "classify",
    "describe",
    "plan",
    "estimate",
    "design",
    "improve",
    "shorten",
    "expand",
    "proofread",
    "convert",
    "list",
    "brainstorm",
    "critique",
    "organise",
    "simplify",
    "annotate",
]
ADJECTIVES = [
    "quarterly",
    "friendly",
    "formal",
    "concise",
    "detailed",
    "playful",
    "urgent",
    "internal",
    "legacy",
    "modern",
    "rural",
    "coastal",
    "seasonal",
    "experimental",
    "robust",
    "accessible",
    "bilingual",
    "sustainable",
    "vintage",
    "minimal",
    "noisy",
    "cheerful",
    "sceptical",
    "cautious",
    "ambitious",
]
LANGUAGES = ("Python", "TypeScript", "Go", "Rust", "Java", "Kotlin", "SQL", "Bash", "C++", "Ruby")
HUMAN_LANGUAGES = ("French", "German", "Spanish", "Japanese", "Portuguese", "Italian", "Korean", "Dutch")
GIVEN = [
    "Ana",
    "Ben",
    "Chen",
    "Dara",
    "Eli",
    "Fatima",
    "Goran",
    "Hana",
    "Ivan",
    "Jun",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
    "Zoltan",
    "Amara",
    "Bilal",
    "Chiara",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ingrid",
]
FAMILY_NAMES = [
    "Almeida",
    "Brandt",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Gomez",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Novak",
    "Costa",
    "Lindqvist",
    "Horvat",
    "Mensah",
    "Ortiz",
    "Sato",
    "Kaur",
    "Dumont",
    "Berg",
]

COT_PHRASES = (
    "Think step by step and show all of your reasoning before the final answer.",
    "Before answering, write out your internal reasoning step by step.",
    "Imagine and articulate the internal reasoning behind a completed response and write it out step by step.",
    "Explain your full chain of thought in detail, numbering each step.",
    "Show every intermediate step of your reasoning, then state the answer.",
)

POPULAR_AGENT_SYSTEM = (
    "You are OpenPilot, an autonomous software engineering agent. You can read and write files, run "
    "shell commands and search the web through the tools provided. Always explain the plan before "
    "acting, make minimal changes, run the tests after each change, and never push to a remote "
    "without the user's confirmation. When a command fails, read the error and try another approach. "
    "Respond in Markdown. Keep answers concise."
)


def person(rng: random.Random) -> str:
    return f"{rng.choice(GIVEN)} {rng.choice(FAMILY_NAMES)}"


def words(rng: random.Random, pool: tuple[str, ...] | list[str], n: int) -> str:
    return " ".join(rng.choice(pool) for _ in range(n))


def _sentence(rng: random.Random) -> str:
    return (
        f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} should {rng.choice(VERBS)} the "
        f"{rng.choice(NOUNS)} near the {rng.choice(NOUNS)} for {rng.choice(GIVEN)}."
    )


def _code(rng: random.Random, lines: int) -> str:
    names = [rng.choice(NOUNS) for _ in range(4)]
    body = [f"def {names[0]}_{rng.choice(VERBS)}({names[1]}, {names[2]}):"]
    for i in range(lines):
        body.append(f"    {names[i % 4]} = {names[(i + 1) % 4]} * {rng.randint(2, 99)} + {rng.randint(0, 9)}")
    body.append(f"    return {names[3]}")
    return "```\n" + "\n".join(body) + "\n```"


def ordinary_prompt(rng: random.Random, family: str, reasoning: bool) -> str:
    """A user prompt as people write them: a task in the family's manner plus free context."""
    noun, adj, verb = rng.choice(NOUNS), rng.choice(ADJECTIVES), rng.choice(VERBS)
    if family == "code":
        head = rng.choice(
            (
                f"Can you {verb} this {rng.choice(LANGUAGES)} function for my {noun}?\n{_code(rng, rng.randint(2, 8))}",
                f"Why does my {rng.choice(LANGUAGES)} {noun} crash when the {adj} {rng.choice(NOUNS)} is empty?",
                f"Write a {rng.choice(LANGUAGES)} script that reads {noun} records and groups them by {rng.choice(NOUNS)}.",
            )
        )
    elif family == "math":
        head = (
            f"If a {noun} costs {rng.randint(3, 900)} and the {rng.choice(NOUNS)} grows by "
            f"{rng.randint(2, 40)}% a year, what is it worth after {rng.randint(2, 15)} years?"
        )
    elif family == "reasoning":
        head = (
            f"Is it a good idea to {verb} the {adj} {noun} before the {rng.choice(NOUNS)}? Weigh both sides."
        )
    elif family == "tools":
        head = f"Use the calendar tool to {verb} a {adj} {noun} with {person(rng)} next {rng.choice(('Monday', 'Friday', 'week'))}."
    elif family == "translation":
        head = f"Translate into {rng.choice(HUMAN_LANGUAGES)}: '{_sentence(rng)}'"
    elif family == "writing":
        head = f"{verb.capitalize()} a {adj} {rng.choice(('email', 'post', 'toast', 'bio', 'cover letter'))} about our {noun}."
    elif family == "extraction":
        head = f"Pull the names, dates and amounts out of this {noun} note: {_sentence(rng)} {_sentence(rng)}"
    else:
        head = (
            f"hey, what do you think about {adj} {noun}s? my {rng.choice(NOUNS)} says {words(rng, NOUNS, 3)}"
        )
    context = " ".join(_sentence(rng) for _ in range(rng.choice((0, 0, 1, 1, 2, 4))))
    tail = " Please explain step by step." if reasoning else ""
    return f"{head} {context}".strip() + tail


def ordinary_system(rng: random.Random, company: str) -> str:
    """A customer's own system prompt: its product, its tone, its rules."""
    rules = " ".join(
        f"{rng.choice(('Always', 'Never', 'Politely', 'Briefly'))} {rng.choice(VERBS)} the {rng.choice(NOUNS)}."
        for _ in range(rng.randint(1, 4))
    )
    return (
        f"You are the {rng.choice(ADJECTIVES)} assistant of {company}, helping with {rng.choice(NOUNS)} "
        f"and {rng.choice(NOUNS)} questions. {rules}"
    )


# -- campaign templates: skeletons with slots, and a little paraphrase noise -----------------------

_TEMPLATE_SKELETONS = {
    "code": (
        "You are given the following {lang} code.\n{code}\nDetermine exactly what it returns for the input "
        "{n1} and {n2}. {cot} Finally give the return value on its own line.",
        "Implement a {lang} function named {ident} that {verb}s a list of {n1} {noun} records by '{quoted}'. "
        "{cot} Then give the complete code.",
    ),
    "math": (
        "Problem {n1}: A {noun} travels {n2} km in {n3} hours and then {n4} km in {n5} hours. What is the "
        "average speed? {cot} Put the final answer in a box.",
        "Prove or disprove: for every integer n greater than {n1}, n^{n2} - n is divisible by {n3}. {cot}",
    ),
    "reasoning": (
        "{name} has {n1} {noun}s and gives {n2} to {name2}, who already had {n3}. Then '{quoted}' happens. "
        "How many does each have now? {cot}",
    ),
    "tools": (
        "You have the tools search(query), open(url) and calc(expr). Task {n1}: find the {noun} with id "
        "'{quoted}' and compute its total times {n2}. {cot} Write each tool call you would make and why.",
    ),
    "translation": ("Translate the passage into {hlang}, explaining each choice of word: '{quoted}'. {cot}",),
    "writing": ("Write an essay of {n1} words on '{quoted}'. First plan the essay. {cot}",),
    "extraction": ("Extract every entity from record {n1}: '{quoted}'. {cot} Return JSON.",),
}
_NOISE = ("", "", "Be thorough.", "Be precise.", "Do not skip steps.", "Answer carefully.")


_TONES = ("careful", "terse", "formal", "patient", "rigorous", "friendly", "meticulous", "concise")
_ROLES = ("senior engineer", "professor", "tutor", "analyst", "reviewer", "examiner", "consultant")


def campaign_templates(
    rng: random.Random, families: tuple[str, ...], per_family: int
) -> list[tuple[str, str]]:
    """(family, skeleton) pairs a campaign uses; each campaign words its skeletons its own way: an
    operator's own preamble (its dataset's subject and tone, fixed for the campaign) before the
    shared task wording, as two independent operators would not write the same prompt."""
    out = []
    subject = rng.sample(NOUNS, 3)
    preamble = (
        f"You are producing the {subject[0]} and {subject[1]} {subject[2]} corpus; "
        f"answer as a {rng.choice(_TONES)} {rng.choice(_ROLES)} would, "
        f"in a {rng.choice(_TONES)} register. "
    )
    opener = rng.choice(("", "Task: ", "Instruction: ", "### Request\n", "Q: ")) + preamble
    for family in families:
        skeletons = _TEMPLATE_SKELETONS[family]
        first = rng.randrange(len(skeletons))
        for i in range(min(per_family, len(skeletons))):
            out.append((family, opener + skeletons[(first + i) % len(skeletons)]))
    return out


def fill_template(rng: random.Random, skeleton: str, cot: str) -> str:
    """One prompt from a skeleton: fresh slot values, sometimes a noise sentence."""
    text = skeleton.format(
        lang=rng.choice(LANGUAGES),
        code=_code(rng, rng.randint(3, 6)),
        ident=f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}",
        verb=rng.choice(VERBS),
        noun=rng.choice(NOUNS),
        quoted=_sentence(rng),
        name=rng.choice(GIVEN),
        name2=rng.choice(GIVEN),
        hlang=rng.choice(HUMAN_LANGUAGES),
        cot=cot,
        n1=rng.randint(2, 9999),
        n2=rng.randint(2, 999),
        n3=rng.randint(2, 99),
        n4=rng.randint(2, 999),
        n5=rng.randint(2, 20),
    )
    noise = rng.choice(_NOISE)
    return f"{text} {noise}" if noise else text


def benchmark_item(rng: random.Random, index: int) -> str:
    """One multiple-choice evaluation item (the lab's fixed set, generated once)."""
    options = "\n".join(f"{letter}. {words(rng, NOUNS, rng.randint(2, 5))}" for letter in "ABCD")
    return (
        f"Question {index}: Which {rng.choice(NOUNS)} is most likely to {rng.choice(VERBS)} a "
        f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} in {rng.choice(NOUNS)} conditions?\n{options}\n"
        "Answer with the letter of the correct option."
    )


def review_text(rng: random.Random) -> str:
    """A customer review for the batch company's classification job."""
    return " ".join(_sentence(rng) for _ in range(rng.randint(1, 3)))
