"""The reasoning check's shortcut (no needle, no search) gives what the plain search gives (issue 20):
every text the reasoning pattern matches holds a needle, so :func:`asks_reasoning` is unchanged."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect.classify import _REASONING, SCAN_CHARS, TAIL_CHARS, _may_ask_reasoning, asks_reasoning
from gateway.detect.prompts import Asked


def plain_asks_reasoning(asked: Asked) -> bool:
    """The check before the shortcut."""
    if asked.thinking:
        return True
    for text in (asked.prompt, asked.system):
        if text is None:
            continue
        if len(text) > SCAN_CHARS + TAIL_CHARS:
            text = text[:SCAN_CHARS] + "\n" + text[-TAIL_CHARS:]
        if _REASONING.search(text.lower()) is not None:
            return True
    return False


# At least one phrase per alternative of the pattern, in each of its forms.
MATCHING = [
    "Step by step", "step-by-step", "STEP BY-STEP", "show your reasoning", "Explain me all your thought process",
    "give the steps", "provide each of the thinking", "include every internal working", "write out your own work",
    "articulate your thoughts", "describe the internal steps", "reveal your reasoning", "share the work",
    "output all steps", "print your thinking", "chain of thought", "Chain-of-Thoughts", "think it through",
    "thinking this through", "think that through", "think everything through", "think through",
    "internal reasoning", "internal monologue", "internal thoughts", "reasoning trace", "reasoning traces",
    "reasoning process", "reasoning chain", "reasoning steps", "thought process", "intermediate step",
    "intermediate steps", "step of your reasoning", "steps of the derivation", "steps of its working",
    "walk me through", "let's think", "lets think", "一步一步", "逐步", "分步", "思考过程", "推理过程", "思维链",
    "шаг за шагом", "Пошаговое", "ход своих рассуждений", "ход рассуждения", "цепочку рассуждений",
    "paso a paso", "tu razonamiento", "su razonamiento", "cadena de pensamiento", "étape par étape",
    "ton raisonnement", "Votre raisonnement", "chaîne de pensée", "Schritt für Schritt", "deinen Denkweg",
    "ihren Gedankengang", "den Lösungsweg", "Denkprozess", "ステップバイステップ", "段階的に", "思考過程",
]  # fmt: skip


def every_english_match() -> list[str]:
    """Every string the English alternatives match, written out (they are finite, apart from what
    \\b lets follow)."""
    verbs = ["show", "explain", "give", "provide", "include", "write out", "articulate", "describe"]
    verbs += ["reveal", "share", "output", "print"]
    nouns = ["reasoning", "thought process", "thinking", "thoughts", "steps", "working", "work"]
    out = [f"step{a}by{b}step" for a in " -" for b in " -"]
    out += [
        f"{verb}{me}{some} {det} {own}{internal}{noun}"
        for verb in verbs
        for me in ("", " me")
        for some in ("", " all", " each of")
        for det in ("your", "the", "all", "each", "every")
        for own in ("", "own ")
        for internal in ("", "internal ")
        for noun in nouns
    ]
    out += [f"chain{a}of{b}thought{s}" for a in " -" for b in " -" for s in ("", "s")]
    out += [
        f"think{ing} {what}through"
        for ing in ("", "ing")
        for what in ("", "it ", "this ", "that ", "everything ")
    ]
    out += [f"internal {x}" for x in ("reasoning", "monologue", "thought", "thoughts")]
    out += [f"reasoning {x}" for x in ("trace", "traces", "process", "chain", "steps")]
    out += [
        "thought process",
        "intermediate step",
        "intermediate steps",
        "walk me through",
        "lets think",
        "let's think",
    ]
    out += [
        f"step{s} of {whose} {what}"
        for s in ("", "s")
        for whose in ("your", "the", "its")
        for what in ("reasoning", "thinking", "working", "derivation")
    ]
    return out


def test_every_english_match_holds_a_needle() -> None:
    phrases = every_english_match()
    assert len(phrases) > 10_000
    for phrase in phrases:
        for text in (phrase, f"x{phrase}.", f"Please {phrase}, now"):
            lowered = text.lower()
            if _REASONING.search(lowered) is not None:  # "x" before a \b alternative stops some
                assert _may_ask_reasoning(lowered), text
        assert _REASONING.search(phrase) is not None, phrase


_WORDS = (
    "step by - steps of show explain give provide include write out articulate describe reveal share "
    "output print me all each every your the its own internal reasoning thought process thinking "
    "thoughts working work chain thought think it this that everything through monologue trace traces "
    "intermediate derivation walk let's lets paso a tu su razonamiento cadena de pensamiento étape par "
    "ton votre raisonnement chaîne pensée schritt für deinen ihren den denkweg gedankengang lösungsweg "
    "denkprozess шаг за шагом пошаговый ход своих ваших рассуждения цепочку STEP Think İ K ß"
)
WORDS = _WORDS.split()
SEPARATORS = [" ", "-", "", "\n", ", ", "  "]
texts = st.lists(
    st.tuples(st.sampled_from(WORDS) | st.text(max_size=4), st.sampled_from(SEPARATORS)), max_size=14
).map(lambda parts: "".join(w + s for w, s in parts))


def test_every_alternative_matches_and_holds_a_needle() -> None:
    for phrase in MATCHING:
        for text in (phrase, f"Please, {phrase}.", phrase.upper()):
            lowered = text.lower()
            assert _REASONING.search(lowered) is not None, text
            assert _may_ask_reasoning(lowered), text


@settings(max_examples=1000, deadline=None)
@given(texts)
def test_no_needle_means_no_match(text: str) -> None:
    lowered = text.lower()
    if _REASONING.search(lowered) is not None:
        assert _may_ask_reasoning(lowered)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.none(), texts), st.one_of(st.none(), texts), st.booleans())
def test_asks_reasoning_is_the_plain_check(prompt: str | None, system: str | None, thinking: bool) -> None:
    asked = Asked(prompt=prompt, system=system, thinking=thinking)
    assert asks_reasoning(asked) == plain_asks_reasoning(asked)


def test_the_shortcut_skips_texts_without_a_needle() -> None:
    assert not _may_ask_reasoning("what is the capital of australia, and why not sydney?")
    assert not _may_ask_reasoning("какая столица австралии?")
