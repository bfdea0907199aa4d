"""Two judgements on a request: does it ask for reasoning traces, and what kind of task is it.

Simple, explainable rules (phrases and request shape), not a model: they run once per call off the
hot path, and a flag raised on them must be explainable to the customer and the regulator.

**Reasoning** (:func:`asks_reasoning`): the prompt or system prompt asks for step-by-step reasoning
or its trace ("step by step", "show your reasoning", "chain of thought", "think it through",
"internal reasoning", "reasoning trace", "walk me through ...", and the same in Chinese, Russian,
Spanish, French, German and Japanese), or the request's parameters ask for reasoning output
(:attr:`.prompts.Asked.thinking`). Both count: labs report extraction campaigns asking for the
trace in words (Anthropic, Google's "reasoning trace coercion") and through the API alike.

**Family** (:func:`family`), the first that applies:

1. ``tools``: the request offers tools or functions (its shape, whatever the text);
2. ``code``: a code block, or words of programming (a language, function, bug, compile, SQL ...);
3. ``math``: LaTeX, an arithmetic expression, or words of mathematics (solve, integral, prove ...);
4. ``translation``: translate / translation, in the six languages;
5. ``extraction``: extract, parse, classify, named entities, "as JSON" ...;
6. ``writing``: write, draft, essay, story, poem, summarise, rewrite ...;
7. ``reasoning``: none of the above but it asks for reasoning, or it is a puzzle or riddle;
8. ``chat``: a chat-shaped request with a prompt; ``other``: no prompt (token ids, an empty body)
   or a bare completion prompt.
"""

from __future__ import annotations

import re

from .prompts import Asked

SCAN_CHARS = 4_096
"""Only the opening of a long prompt is scanned for its family: what it asks is said there. For
reasoning, its closing :data:`TAIL_CHARS` too ("... Think step by step." ends many prompts)."""
TAIL_CHARS = 1_024

FAMILIES = ("code", "math", "reasoning", "tools", "translation", "writing", "extraction", "chat", "other")

# No pattern starts with \b or a class: each alternative starts with a literal, so re finds the
# characters that can start a match by a fast scan (a leading \b costs ~10x on a long prompt).
_REASONING = re.compile(
    "|".join(
        (
            r"step[- ]by[- ]step",
            r"(?:show|explain|give|provide|include|write out|articulate|describe|reveal|share|output|print)"
            r"\b(?: me)?(?: all| each of)? (?:your|the|all|each|every) (?:own )?(?:internal )?"
            r"(?:reasoning|thought process|thinking|thoughts|steps|working|work)\b",
            r"chain[- ]of[- ]thoughts?\b",
            r"think(?:ing)? (?:it |this |that |everything )?through\b",
            r"internal (?:reasoning|monologue|thoughts?)\b",
            r"reasoning (?:trace|traces|process|chain|steps)\b",
            r"thought process\b",
            r"intermediate steps?\b",
            r"steps? of (?:your|the|its) (?:reasoning|thinking|working|derivation)\b",
            r"walk me through\b",
            r"let'?s think\b",
            r"一步一步|逐步|分步|思考过程|推理过程|思维链",
            r"шаг за шагом|пошагов|ход (?:своих |ваших |твоих )?рассуждени|цепочк\w* рассуждени",
            r"paso a paso|(?:tu|su) razonamiento|cadena de pensamiento",
            r"étape par étape|(?:ton|votre) raisonnement|chaîne de pensée",
            r"schritt für schritt|(?:deinen|ihren|den) (?:denkweg|gedankengang|lösungsweg)|denkprozess",
            r"ステップバイステップ|段階的に|思考過程",
        )
    )
)
# Every match of _REASONING contains one of these (each alternative above has one of them in every
# string it matches: "internal" leads to "reasoning", "thought" or "monologue"; "think ... through"
# and "walk me through" hold "through" and one of _THROUGH): a text with none cannot match, and `in`
# over them costs a sixth of the search on a text that does not ask (tests/unit/detect/
# test_classify_needles.py checks both ways). An ASCII text holds only the ASCII ones.
_REASONING_ASCII = (
    "step", "reasoning", "thought", "thinking", "work", "monologue", "s think", "paso a paso",
    "razonamiento", "cadena de pensamiento", "raisonnement", "denkweg", "gedankengang", "denkprozess",
)  # fmt: skip
_REASONING_NEEDLES = (
    *_REASONING_ASCII, "一步一步", "逐步", "分步", "思考过程", "推理过程", "思维链", "шаг за шагом",
    "пошагов", "рассуждени", "étape par étape", "chaîne de pensée", "schritt für schritt", "lösungsweg",
    "ステップバイステップ", "段階的に", "思考過程",
)  # fmt: skip
_THROUGH = ("k through", "g through", "it through", "this through", "that through", "walk me")


def _may_ask_reasoning(lowered: str) -> bool:
    """False only where _REASONING cannot match (a necessary condition, not a sufficient one)."""
    needles = _REASONING_ASCII if lowered.isascii() else _REASONING_NEEDLES
    if any(needle in lowered for needle in needles):
        return True
    return "through" in lowered and any(needle in lowered for needle in _THROUGH)


_CODE_BLOCK = re.compile(r"```|^(?:def|class|import|from \w+ import|#include|function|const|let|var) ", re.M)
# \b first here (slower): "rust" must not match "trust".
_CODE = re.compile(
    r"\b(?:python|javascript|typescript|java|c\+\+|c#|golang|rust|kotlin|swift|ruby|php|bash|sql|html|"
    r"css|regex|code|coding|function|method|class|compile[rsd]?|debug|refactor|bug|stack ?trace|"
    r"exception|unit tests?|implement|algorithm|api endpoint|snippet|script)\b"
)
_LATEX = re.compile(r"\\(?:frac|sum|int|sqrt|lim|cdot)|\$[^$\n]+\$")
_ARITHMETIC = re.compile(r"\d\s*[+*/^=\u00d7\u00f7]\s*\d|\d\s+-\s+\d")  # not 2026-12-01
_MATH = re.compile(
    r"(?:solve|equation|integral|"
    r"derivative|differentiate|integrate|prove that|proof|theorem|lemma|probability|algebra|geometry|"
    r"calculus|polynomial|matrix|eigen\w*|arithmetic|how many|compute the|calculate)\b"
)
_TRANSLATION = re.compile(
    r"translat\w*|traduc\w*|tradu[iz]\w*|übersetz\w*|перевед\w*|перевод\w*|翻译|翻譯|翻訳"
)
_EXTRACTION = re.compile(
    r"(?:extract\w*|parse|parsing|classify|classification|categori[sz]e|named entit\w*|label each|"
    r"fill in the fields|key[- ]value|as json|in json|json object|json schema|structured data)\b"
)
_WRITING = re.compile(
    r"(?:write|draft|compose|essay|story|poem|blog|article|cover letter|rewrite|paraphrase|"
    r"summari[sz]e|summary|proofread|edit this|slogan|tweet|headline)\b"
)
_PUZZLE = re.compile(r"(?:riddle|puzzle|logic problem|deduce|brain ?teaser)\b")


def asks_reasoning(asked: Asked) -> bool:
    """The request asks for step-by-step reasoning or its trace, in words or by parameter."""
    if asked.thinking:
        return True
    for text in (asked.prompt, asked.system):
        if text is None:
            continue
        if len(text) > SCAN_CHARS + TAIL_CHARS:
            text = text[:SCAN_CHARS] + "\n" + text[-TAIL_CHARS:]
        lowered = text.lower()
        if _may_ask_reasoning(lowered) and _REASONING.search(lowered) is not None:
            return True
    return False


def family(asked: Asked, reasoning: bool) -> str:
    """The task family of a request (see the module's docstring for the rules, in order)."""
    if asked.tools:
        return "tools"
    if asked.prompt is None:
        return "other"
    text = asked.prompt[:SCAN_CHARS]
    lowered = text.lower()
    if _CODE_BLOCK.search(text) or _CODE.search(lowered):
        return "code"
    if (
        _ARITHMETIC.search(text)
        or (("\\" in text or "$" in text) and _LATEX.search(text))
        or _MATH.search(lowered)
    ):
        return "math"
    if _TRANSLATION.search(lowered):
        return "translation"
    if _EXTRACTION.search(lowered):
        return "extraction"
    if _WRITING.search(lowered):
        return "writing"
    if reasoning or _PUZZLE.search(lowered):
        return "reasoning"
    return "chat" if asked.conversational else "other"
