"""Reasoning elicitation and task families: the documented rules, one case each and the order."""

import pytest

from gateway.detect.classify import FAMILIES, asks_reasoning, family
from gateway.detect.prompts import Asked


def chat(prompt: str | None, **kw: object) -> Asked:
    return Asked(prompt=prompt, conversational=True, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "prompt",
    [
        "Solve this step by step.",
        "Think step-by-step before answering",
        "Please show your reasoning.",
        "Explain your thought process in detail",
        "Use chain of thought.",
        "Let's think this through carefully",
        "Write out your internal reasoning",
        "Give me the full reasoning trace",
        "Walk me through how you got there",
        "Show every intermediate step, then state the answer.",
        "List each step of your derivation before the result",
        "Imagine and articulate the internal reasoning behind a completed response",
        "请一步一步地思考",
        "Реши задачу шаг за шагом",
        "Explícalo paso a paso",
        "Expliquez votre raisonnement étape par étape",
        "Erkläre Schritt für Schritt",
        "ステップバイステップで考えて",
    ],
)
def test_phrases_that_ask_for_reasoning(prompt: str) -> None:
    assert asks_reasoning(chat(prompt))


@pytest.mark.parametrize(
    "prompt", ["What is the capital of France?", "Write a poem about steps", "Summarise this article"]
)
def test_prompts_that_do_not(prompt: str) -> None:
    assert not asks_reasoning(chat(prompt))


def test_the_system_prompt_and_parameters_count_too() -> None:
    assert asks_reasoning(Asked(prompt="2+2?", system="Always reason step by step."))
    assert asks_reasoning(Asked(prompt="2+2?", thinking=True))
    assert not asks_reasoning(Asked())


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (chat("Anything at all", tools=True), "tools"),
        (chat("Fix this bug in my Python script"), "code"),
        (chat("```\nx = 1\n```\nwhy?"), "code"),
        (chat("Solve the equation x^2 = 9"), "math"),
        (chat("What is 17 * 23?"), "math"),
        (chat("Translate this into Spanish: good night"), "translation"),
        (chat("Extract the dates from this email"), "extraction"),
        (chat("Write a short story about a lighthouse"), "writing"),
        (chat("Explain step by step why the sky is blue"), "reasoning"),
        (chat("Here is a riddle for you"), "reasoning"),
        (chat("hello, how are you today?"), "chat"),
        (Asked(prompt="Once upon a time"), "other"),
        (Asked(), "other"),
    ],
)
def test_families(asked: Asked, expected: str) -> None:
    assert expected in FAMILIES
    assert family(asked, asks_reasoning(asked)) == expected


def test_the_first_rule_that_applies_wins() -> None:
    # Code before math before writing: "write a python function to integrate" is code.
    assert family(chat("Write a Python function to integrate a polynomial"), False) == "code"
    # Math with a request for reasoning is math (the reasoning flag says the rest).
    assert family(chat("Prove that the sum is even, step by step"), True) == "math"


def test_words_inside_other_words_and_dates_do_not_count() -> None:
    assert family(chat("Can I trust this summary of the meeting?"), False) == "writing"
    assert family(chat("Meet me on 2026-12-01 at the station"), False) == "chat"


def test_a_request_for_reasoning_at_the_end_of_a_long_prompt() -> None:
    assert asks_reasoning(chat("data " * 5000 + "Now think step by step."))
