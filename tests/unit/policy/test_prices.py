"""The price table: loading and overriding it, bad entries, model lookup, and what requests cost."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import pytest

from gateway.policy import PolicyError, load_policy, shipped_policy_dir
from gateway.policy.build import policy_hash
from gateway.policy.model import GpuPrice, ModelPrice, Prices
from gateway.proxy.context import RequestContext
from gateway.proxy.handler import actual_usage
from gateway.quota.model import Usage
from gateway.quota.resolve import estimate_chat

from .helpers import SHIPPED, rebuilt

SMALL = """
[model_prices.small]
models = ["gpt-4o-mini-*", "gpt-4o-mini"]
input_per_million = 0.15
output_per_million = 0.60
notes = "list price"
"""

H100 = """
[gpu_prices.h100]
per_gpu_hour = 2.49
"""

CHEAP = ModelPrice(models=("m",), input_per_million=0.15, output_per_million=0.60)


def folder_with(tmp_path: Path, name: str, text: str, file: str = "local.toml") -> Path:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    (folder / file).write_text(text)
    return folder


def load_error(*folders: Path) -> str:
    with pytest.raises(PolicyError) as exc:
        load_policy(shipped_policy_dir(), *folders)
    return str(exc.value)


def shipped_without_prices(prices: Prices | None = None) -> str:
    """The hash of the shipped content built in code, with ``prices`` instead of the table."""
    return rebuilt(prices=prices).hash


# Loading


def test_the_shipped_policy_has_an_empty_usd_table_and_keeps_its_hash() -> None:
    assert SHIPPED.prices == Prices()
    assert SHIPPED.prices.currency == "USD"
    assert SHIPPED.prices.models == {} and SHIPPED.prices.gpus == {}
    assert shipped_policy_dir() / "prices.toml" in map(Path, SHIPPED.sources)
    assert shipped_without_prices(None) == SHIPPED.hash
    assert shipped_without_prices(Prices()) == SHIPPED.hash
    args = (SHIPPED.groups, SHIPPED.tiers, SHIPPED.rules, SHIPPED.origin, SHIPPED.thresholds, "tier2")
    assert policy_hash(*args, prices=Prices()) == policy_hash(*args, prices=None) == policy_hash(*args)
    assert policy_hash(*args, prices=Prices(currency="EUR")) != policy_hash(*args)
    assert "prices" in msgspec.json.decode(msgspec.json.encode(SHIPPED))  # shown, though not hashed


def test_an_empty_table_in_another_currency_changes_the_hash() -> None:
    assert shipped_without_prices(Prices(currency="EUR")) != SHIPPED.hash


def test_a_deployment_folder_adds_model_and_gpu_prices(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "deployment", SMALL + H100)
    policy = load_policy(shipped_policy_dir(), folder)
    assert policy.prices == Prices(
        currency="USD",
        models={
            "small": ModelPrice(
                models=("gpt-4o-mini", "gpt-4o-mini-*"),  # sorted
                input_per_million=0.15,
                output_per_million=0.60,
                notes="list price",
            )
        },
        gpus={"h100": GpuPrice(per_gpu_hour=2.49)},
    )
    assert policy.hash != SHIPPED.hash
    assert policy.prices.for_model("gpt-4o-mini-2024-07-18") is policy.prices.models["small"]


def test_the_hash_ignores_the_order_and_repeats_of_model_names(tmp_path: Path) -> None:
    one = folder_with(tmp_path, "one", SMALL)
    two = folder_with(
        tmp_path,
        "two",
        SMALL.replace('["gpt-4o-mini-*", "gpt-4o-mini"]', '["gpt-4o-mini", "gpt-4o-mini-*", "gpt-4o-mini"]'),
    )
    assert load_policy(shipped_policy_dir(), one).hash == load_policy(shipped_policy_dir(), two).hash


def test_a_price_change_changes_the_hash(tmp_path: Path) -> None:
    one = folder_with(tmp_path, "one", SMALL)
    two = folder_with(tmp_path, "two", SMALL.replace("0.60", "0.61"))
    assert load_policy(shipped_policy_dir(), one).hash != load_policy(shipped_policy_dir(), two).hash


def test_the_currency_of_a_later_folder_replaces_the_earlier(tmp_path: Path) -> None:
    first = folder_with(tmp_path, "first", 'currency = "EUR"\n')
    second = folder_with(tmp_path, "second", 'currency = "GBP"\n')
    assert load_policy(shipped_policy_dir(), first).prices == Prices(currency="EUR")
    policy = load_policy(shipped_policy_dir(), first, second)
    assert policy.prices == Prices(currency="GBP")
    assert policy.hash != SHIPPED.hash


def test_the_currency_is_set_once_per_folder(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "deployment", 'currency = "EUR"\n', "a.toml")
    folder_with(tmp_path, "deployment", '\ncurrency = "EUR"\n', "b.toml")
    assert load_error(folder) == f"{folder}/b.toml:2: currency: already set in {folder}/a.toml:1"


def test_a_later_folder_replaces_an_entry_of_the_same_name_whole(tmp_path: Path) -> None:
    first = folder_with(tmp_path, "first", SMALL + H100)
    second = folder_with(
        tmp_path,
        "second",
        '[model_prices.small]\nmodels = ["gpt-4.1-nano"]\ninput_per_million = 0.1\n'
        "output_per_million = 0.4\n\n[gpu_prices.h100]\nper_gpu_hour = 1.99\n",
    )
    prices = load_policy(shipped_policy_dir(), first, second).prices
    assert prices.models == {
        "small": ModelPrice(models=("gpt-4.1-nano",), input_per_million=0.1, output_per_million=0.4)
    }
    assert prices.gpus == {"h100": GpuPrice(per_gpu_hour=1.99)}  # notes and all: the earlier is gone
    assert prices.for_model("gpt-4o-mini") is None


def test_a_later_folder_may_reprice_a_model_under_the_same_entry_name(tmp_path: Path) -> None:
    first = folder_with(tmp_path, "first", SMALL)
    second = folder_with(tmp_path, "second", SMALL.replace("0.15", "0.20"))
    prices = load_policy(shipped_policy_dir(), first, second).prices
    found = prices.for_model("gpt-4o-mini")
    assert found is not None and found.input_per_million == 0.20


# Errors: `<file>:<line>: <where>: <reason>`


@pytest.mark.parametrize("currency", ["usd", "US D", "USDX", "US"])
def test_a_currency_is_three_upper_case_letters(tmp_path: Path, currency: str) -> None:
    folder = folder_with(tmp_path, "deployment", f'# the table\ncurrency = "{currency}"\n')
    assert load_error(folder) == (
        f'{folder}/local.toml:2: currency: {currency!r} is not an ISO 4217 code like "USD"'
    )


def test_a_currency_is_a_string(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "deployment", "currency = 978\n")
    assert load_error(folder) == f"{folder}/local.toml:1: currency: expected `str`, got `int`"


MISTAKES = {
    "unknown_field": (
        SMALL.replace('notes = "list price"', 'note = "list price"'),
        "local.toml:6: model_prices.small.note: object contains unknown field `note`",
    ),
    "negative_price": (
        SMALL.replace("input_per_million = 0.15", "input_per_million = -0.15"),
        "local.toml:4: model_prices.small.input_per_million: expected `float` >= 0.0",
    ),
    "missing_price": (
        SMALL.replace("output_per_million = 0.60\n", ""),
        "local.toml:2: model_prices.small: object missing required field `output_per_million`",
    ),
    "no_models": (
        SMALL.replace('["gpt-4o-mini-*", "gpt-4o-mini"]', "[]"),
        "local.toml:3: model_prices.small.models: expected `array` of length >= 1",
    ),
    "empty_model_name": (
        SMALL.replace('["gpt-4o-mini-*", "gpt-4o-mini"]', '["gpt-4o-mini", ""]'),
        "local.toml:3: model_prices.small.models[1]: a model name must not be empty",
    ),
    "blank_model_name_on_its_own_line": (
        SMALL.replace('["gpt-4o-mini-*", "gpt-4o-mini"]', '[\n  "gpt-4o-mini",\n  " ",\n]'),
        "local.toml:5: model_prices.small.models[1]: a model name must not be empty",
    ),
    "model_name_with_spaces_around_it": (
        SMALL.replace('["gpt-4o-mini-*", "gpt-4o-mini"]', '["gpt-4o-mini", "gpt-4o "]'),
        "local.toml:3: model_prices.small.models[1]: 'gpt-4o ' has spaces around it: no request names that",
    ),
    "bad_entry_name": (
        SMALL.replace("[model_prices.small]", "[model_prices.Small]"),
        "local.toml:2: model_prices.Small: model price name 'Small' must be lower case letters, digits and _",
    ),
    "entry_name_with_a_dash": (
        SMALL.replace("[model_prices.small]", "[model_prices.gpt-4o]"),
        "local.toml:2: model_prices.gpt-4o: "
        "model price name 'gpt-4o' must be lower case letters, digits and _",
    ),
    "negative_gpu_price": (
        H100.replace("2.49", "-1"),
        "local.toml:3: gpu_prices.h100.per_gpu_hour: expected `float` >= 0.0",
    ),
    "unknown_gpu_field": (
        H100 + "per_hour = 2\n",
        "local.toml:4: gpu_prices.h100.per_hour: object contains unknown field `per_hour`",
    ),
    "unknown_accelerator": (
        "\n\n" + H100.replace("h100", "rtx4090"),
        "local.toml:4: gpu_prices.rtx4090: 'rtx4090' is not an accelerator of the catalog",
    ),
    "accelerator_alias": (
        H100.replace("h100", "h100-sxm"),
        "local.toml:2: gpu_prices.h100-sxm: "
        "'h100-sxm' is not an accelerator of the catalog (it is an alias of 'h100': price the catalog name)",
    ),
    "upper_case_gpu_name": (
        H100.replace("h100", "H100"),
        "local.toml:2: gpu_prices.H100: GPU price name 'H100' must be lower case letters, digits, - and _",
    ),
    "same_model_in_two_entries": (
        SMALL
        + '\n[model_prices.big]\nmodels = ["gpt-4o", "gpt-4o-mini"]\n'
        + "input_per_million = 2.5\noutput_per_million = 10\n",
        "local.toml:9: model_prices.big.models[1]: 'gpt-4o-mini' is already priced by 'small' "
        "({folder}/local.toml:3)",
    ),
    "same_pattern_in_two_entries_reported_where_written_last": (
        # `zeta` comes first in the file and in the table, `alpha` first by name: the later line is blamed.
        '[model_prices.zeta]\nmodels = [\n  "o1",\n  "gpt-*",\n]\ninput_per_million = 1\n'
        'output_per_million = 1\n\n[model_prices.alpha]\nmodels = ["gpt-*"]\ninput_per_million = 2\n'
        "output_per_million = 2\n",
        "local.toml:10: model_prices.alpha.models[0]: 'gpt-*' is already priced by 'zeta' "
        "({folder}/local.toml:4)",
    ),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_bad_price_entry_names_file_line_and_reason(tmp_path: Path, name: str) -> None:
    text, message = MISTAKES[name]
    folder = folder_with(tmp_path, "deployment", text)
    assert load_error(folder) == f"{folder}/" + message.format(folder=folder)


def test_the_same_model_twice_in_one_entry_is_accepted(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path,
        "deployment",
        SMALL.replace('["gpt-4o-mini-*", "gpt-4o-mini"]', '["gpt-4o-mini", "gpt-4o-mini-*", "gpt-4o-mini"]'),
    )
    prices = load_policy(shipped_policy_dir(), folder).prices
    assert prices.models["small"].models == ("gpt-4o-mini", "gpt-4o-mini-*")


def test_the_same_model_in_two_files_of_one_folder(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "deployment", SMALL, "a.toml")
    folder_with(
        tmp_path,
        "deployment",
        '[model_prices.mini]\ninput_per_million = 0.1\noutput_per_million = 0.1\nmodels = ["gpt-4o-mini-*"]\n',
        "b.toml",
    )
    assert load_error(folder) == (
        f"{folder}/b.toml:4: model_prices.mini.models[0]: "
        f"'gpt-4o-mini-*' is already priced by 'small' ({folder}/a.toml:3)"
    )


def test_the_same_model_in_two_folders_is_reported_in_the_later_folder(tmp_path: Path) -> None:
    # `small` comes first in the merged table (the later folder replaced it in place), yet it is
    # the later-written entry: the error is there, naming `big` in the earlier folder.
    first = folder_with(
        tmp_path,
        "first",
        SMALL
        + '\n[model_prices.big]\nmodels = ["gpt-4o"]\ninput_per_million = 2.5\noutput_per_million = 10\n',
    )
    second = folder_with(
        tmp_path,
        "second",
        '[model_prices.small]\nmodels = ["gpt-4o-mini", "gpt-4o"]\n'
        "input_per_million = 0.15\noutput_per_million = 0.60\n",
    )
    assert load_error(first, second) == (
        f"{second}/local.toml:2: model_prices.small.models[1]: "
        f"'gpt-4o' is already priced by 'big' ({first}/local.toml:9)"
    )


def test_a_gpu_price_may_follow_a_catalog_entry_added_by_the_same_folder(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path,
        "deployment",
        '[accelerators.rtx4090]\ntitle = "RTX 4090"\npeak_tflops = { bf16 = 165 }\nsource = "datasheet"\n'
        "as_of = 2025-01-01\n" + H100.replace("h100", "rtx4090"),
    )
    assert load_policy(shipped_policy_dir(), folder).prices.gpus == {"rtx4090": GpuPrice(per_gpu_hour=2.49)}


# Prices.for_model


def price(*models: str, cost: float = 1.0) -> ModelPrice:
    return ModelPrice(models=models, input_per_million=cost, output_per_million=cost)


def both_orders(**entries: ModelPrice) -> list[Prices]:
    items = list(entries.items())
    return [Prices(models=dict(items)), Prices(models=dict(reversed(items)))]


def test_an_exact_name_beats_any_matching_pattern() -> None:
    exact, pattern = price("gpt-4o-mini"), price("gpt-4o-mini*", "gpt-*")
    for prices in both_orders(exact=exact, pattern=pattern):
        assert prices.for_model("gpt-4o-mini") is exact  # although "gpt-4o-mini*" is longer
        assert prices.for_model("gpt-4o-mini-2024") is pattern


def test_the_longest_matching_pattern_wins_whatever_the_order() -> None:
    broad, narrow = price("gpt-*"), price("gpt-4o-mini-*")
    for prices in both_orders(broad=broad, narrow=narrow):
        assert prices.for_model("gpt-4o-mini-2024-07-18") is narrow
        assert prices.for_model("gpt-4o-2024-08-06") is broad


def test_patterns_of_equal_length_are_tried_in_text_order() -> None:
    digit, mark = price("gpt-4?"), price("gpt-?o")  # "4" sorts before "?"
    for prices in both_orders(mark=mark, digit=digit):
        assert prices.for_model("gpt-4o") is digit
        assert prices.for_model("gpt-5o") is mark


def test_patterns_support_character_classes() -> None:
    prices = Prices(models={"o": price("o[13]-*")})
    assert prices.for_model("o1-preview") is prices.models["o"]
    assert prices.for_model("o2-preview") is None


def test_lookup_is_case_sensitive() -> None:
    prices = Prices(models={"a": price("gpt-4o"), "b": price("claude-*")})
    assert prices.for_model("GPT-4o") is None
    assert prices.for_model("Claude-3") is None
    assert prices.for_model("claude-3") is prices.models["b"]


def test_no_model_or_an_unknown_model_has_no_price() -> None:
    prices = Prices(models={"a": price("gpt-4o", "gpt-4o-*")})
    assert prices.for_model(None) is None
    assert prices.for_model("llama-3") is None
    assert prices.for_model("gpt-4") is None
    assert prices.for_model("") is None
    assert Prices().for_model("gpt-4o") is None


def test_lookups_are_memoised() -> None:
    prices = Prices(models={"a": price("gpt-*")})
    first = prices.for_model("gpt-4o")
    assert first is prices.models["a"]
    assert prices.for_model("gpt-4o") is first
    assert prices.for_model("nope") is None
    assert prices._memo == {"gpt-4o": first, "nope": None}


def test_the_memo_is_bounded() -> None:
    prices = Prices(models={"a": price("gpt-*")})
    for i in range(10_000):
        assert prices.for_model(f"unknown-{i}") is None
    assert len(prices._memo) == 10_000
    assert prices.for_model("unknown-10000") is None
    assert len(prices._memo) <= 10_000
    assert prices._memo == {"unknown-10000": None}  # cleared, then the new name
    assert prices.for_model("gpt-4o") is prices.models["a"]  # and still answers


# What tokens cost


def test_model_price_cost() -> None:
    assert CHEAP.cost(1_000, 500) == pytest.approx(0.00045, rel=1e-12)
    assert CHEAP.cost(1_000_000, 0) == pytest.approx(0.15, rel=1e-12)
    assert CHEAP.cost(0, 1_000_000) == pytest.approx(0.60, rel=1e-12)
    assert CHEAP.cost(0, 0) == 0.0


def test_estimate_chat_prices_the_estimated_prompt_and_the_output_cap() -> None:
    estimate = estimate_chat(4001, 256, price=CHEAP)  # ceil(4001 / 4) = 1001 input tokens
    assert (estimate.requests, estimate.input_tokens, estimate.output_tokens) == (1, 1001, 256)
    assert estimate.spend == pytest.approx((1001 * 0.15 + 256 * 0.60) / 1e6, rel=1e-12)
    assert estimate.spend == pytest.approx(0.00030375, rel=1e-12)
    # No cap in the request: the default one is priced.
    assert estimate_chat(1, None, default_max_tokens=4096, price=CHEAP).spend == pytest.approx(
        0.00245775, rel=1e-12
    )


def test_estimate_chat_without_a_price_is_unpriced() -> None:
    estimate = estimate_chat(4001, 256)
    assert (estimate.requests, estimate.input_tokens, estimate.output_tokens) == (1, 1001, 256)
    assert math.isnan(estimate.spend)
    assert math.isnan(estimate_chat(0, 0, price=None).spend)


ESTIMATE = Usage(requests=1, input_tokens=40, output_tokens=500)


def ctx(
    status: int | None,
    *,
    prompt: int | None = None,
    completion: int | None = None,
    stream: bool = False,
    model_price: ModelPrice | None = CHEAP,
) -> RequestContext:
    c = RequestContext({"headers": [], "client": ("127.0.0.1", 1)}, None)
    c.upstream_status = status
    c.prompt_tokens, c.completion_tokens, c.stream = prompt, completion, stream
    c.price = model_price
    return c


def test_actual_usage_prices_the_reported_tokens() -> None:
    usage = actual_usage(ctx(200, prompt=12, completion=34), ESTIMATE)
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (1, 12, 34)
    assert usage.spend == pytest.approx(0.0000222, rel=1e-12)  # (12 x 0.15 + 34 x 0.60) / 1e6


def test_actual_usage_prices_the_estimate_where_the_upstream_did_not_say() -> None:
    assert actual_usage(ctx(200), ESTIMATE).spend == pytest.approx(0.000306, rel=1e-12)  # 40 in, 500 out
    cut_short = actual_usage(ctx(200, completion=7, stream=True), ESTIMATE)  # 40 in, 7 out
    assert cut_short.spend == pytest.approx(0.0000102, rel=1e-12)


@pytest.mark.parametrize("status", [None, 500, 502, 503, 429])
def test_actual_usage_costs_nothing_when_the_upstream_gave_no_service(status: int | None) -> None:
    usage = actual_usage(ctx(status, prompt=12, completion=34), ESTIMATE)
    assert usage == Usage()
    assert usage.spend == 0.0


def test_actual_usage_of_a_refusal_or_an_unpriced_model_costs_nothing() -> None:
    assert actual_usage(ctx(400), ESTIMATE) == Usage(1, 0, 0, spend=0.0)
    unpriced = actual_usage(ctx(200, prompt=12, completion=34, model_price=None), ESTIMATE)
    assert unpriced == Usage(1, 12, 34, spend=0.0)
