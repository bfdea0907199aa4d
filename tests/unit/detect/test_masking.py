"""Masking: prompts made from one template share one skeleton; different tasks do not."""

import pytest

from gateway.detect.masking import MAX_CHARS, mask


@pytest.mark.parametrize(
    ("text", "skeleton"),
    [
        ("Solve 12 + 7 for Jane Doe.", "solve <num> + <num> for <name> ."),
        ("See https://example.com/a?b=1 or www.x.org now", "see <url> or <url> now"),
        ("Mail ada@example.org today", "mail <email> today"),
        (
            "id 0b7e4c52-4f1e-4bd9-9a55-0d0e4f7d1c2a and 0xDEADBEEF and 3f2a9c1b8e",
            "id <uuid> and <hex> and <hex>",
        ),
        ("Rewrite \"the quick fox\" and 'lazy dog'", "rewrite <str> and <str>"),
        ("Fix:\n```python\nprint(1)\n```\nand `x = 2`", "fix: <code> and <code>"),
        ("Price: 1,234.50 or 3.5% or -7e3", "price: <num> or <num> or - <num>"),
        ("  Many   spaces\n\tHere  ", "many spaces here"),
        ("Tell me about New York City", "tell me about <name>"),
        ("Call solve_1370 on gpt4", "call solve_ <num> on gpt <num>"),
    ],
)
def test_variable_parts_become_placeholders(text: str, skeleton: str) -> None:
    assert mask(text) == skeleton


def test_one_template_one_skeleton() -> None:
    a = mask('Translate "Good morning" into French for Marie Curie, order 1182.')
    b = mask('Translate "See you tomorrow" into French for Wang Wei, order 77.')
    assert a == b


def test_only_the_opening_of_a_huge_prompt_is_read() -> None:
    opening = ("word " * MAX_CHARS)[:MAX_CHARS]
    assert mask(opening + "tail " * 1000) == mask(opening)
