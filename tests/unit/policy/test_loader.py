"""Loading policy folders: the shipped policy, its hash, overrides, and every kind of bad file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import msgspec
import pytest

from gateway.policy import PolicyError, load_policy, shipped_policy_dir
from gateway.policy.model import Caps

from .helpers import SHIPPED
from .test_accelerators import BAD_CATALOG

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "policies"


def copy_shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "policy"
    shutil.copytree(shipped_policy_dir(), folder)
    return folder


def test_shipped_dir_is_the_source_tree_folder() -> None:
    assert shipped_policy_dir() == ROOT / "policies"
    assert load_policy().hash == load_policy(shipped_policy_dir()).hash


def test_shipped_policy_groups_tiers_and_thresholds() -> None:
    p = SHIPPED
    assert set(p.groups) == {
        "comprehensively_sanctioned",
        "foreign_adversaries",
        "ear_d5",
        "ear_e1",
        "ear_e2",
        "ai_diffusion_tier1",
        "eu",
    }
    for group in p.groups.values():
        assert group.title and group.source and group.as_of.year >= 2014
    sanctioned = p.groups["comprehensively_sanctioned"]
    assert sanctioned.countries == ("CU", "IR", "KP")
    assert {"UA-43", "UA-14", "UA-09"} <= set(sanctioned.regions)
    assert "SY" not in sanctioned.countries  # the Syria program ended on 2025-07-01
    assert "KH" not in p.groups["ear_d5"].countries  # Cambodia left D:5 on 2026-02-03
    assert set(p.groups["foreign_adversaries"].countries) == {"CN", "HK", "MO", "CU", "IR", "KP", "RU", "VE"}
    assert len(p.groups["ai_diffusion_tier1"].countries) == 19
    assert len(p.groups["eu"].countries) == 27 and "GB" not in p.groups["eu"].countries

    assert p.index.tier_order == ("tier1", "tier2", "tier3")
    assert p.default_tier == "tier2"
    tier_of = p.index.tier_of_country
    assert tier_of["US"] == tier_of["TW"] == "tier1"
    assert tier_of["IR"] == tier_of["SY"] == tier_of["CN"] == tier_of["MO"] == "tier3"
    assert "BR" not in tier_of  # the default tier
    assert p.index.tier_of_region["UA-43"] == "tier3"
    assert "UA" not in tier_of

    assert p.rules["tier3"].actions == ()
    assert p.rules["tier2"].caps == Caps(max_gpus_per_job=256, flop_per_month=5e23)
    assert p.origin.deny == ("tier3",)
    assert (p.origin.unknown_origin, p.origin.partial_country_origin) == ("allow", "allow")
    assert p.ownership_threshold == 25.0
    assert [(t.name, t.flop, t.alert_fractions) for t in p.thresholds.training] == [
        ("bio", 1e23, (0.1, 0.5, 1.0)),
        ("eu", 1e25, (0.1, 0.5, 1.0)),
        ("general", 1e26, (0.1, 0.5, 1.0)),
    ]
    assert [Path(s).name for s in p.sources] == [
        "accelerators.toml",
        "countries.toml",
        "detection.toml",
        "plans.toml",
        "prices.toml",
        "rules.toml",
        "thresholds.toml",
        "tiers.toml",
    ]


def test_encoding_shows_content_not_lookups() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(SHIPPED))
    assert set(encoded) == {
        "groups",
        "tiers",
        "rules",
        "origin",
        "thresholds",
        "default_tier",
        "hash",
        "sources",
        "plans",
        "accelerators",
        "compute",
        "prices",
        "parameters",
        "detection",
    }


def test_hash_is_stable_and_ignores_layout(tmp_path: Path) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", SHIPPED.hash)
    assert load_policy().hash == SHIPPED.hash

    folder = copy_shipped(tmp_path)
    # Reorder a list, add spaces and comments, rename a file, move [origin] into a file of its own.
    countries = (folder / "countries.toml").read_text()
    countries = countries.replace(
        'countries = ["CU", "IR", "KP"]', 'countries = [ "KP",  "IR", # north\n "CU" ]'
    )
    (folder / "countries.toml").unlink()
    (folder / "00_groups.toml").write_text("# reorganised\n\n" + countries)
    rules = (folder / "rules.toml").read_text()
    head, origin = rules.split("[origin]")
    (folder / "rules.toml").write_text(head)
    (folder / "zz_origin.toml").write_text("[origin]" + origin)
    assert load_policy(folder).hash == SHIPPED.hash


def test_hash_changes_with_content(tmp_path: Path) -> None:
    folder = copy_shipped(tmp_path)
    path = folder / "thresholds.toml"
    path.write_text(path.read_text().replace("ownership_threshold = 25.0", "ownership_threshold = 10.0"))
    changed = load_policy(folder)
    assert changed.ownership_threshold == 10.0
    assert changed.hash != SHIPPED.hash


def test_override_replaces_a_tier_and_a_rule_and_adds_a_group(tmp_path: Path) -> None:
    override = tmp_path / "deployment"
    override.mkdir()
    (override / "local.toml").write_text(
        """
[groups.eea_partners]
title = "EEA partners"
source = "Operator decision 2026-04"
as_of = 2026-04-01
countries = ["IS", "LI", "CH"]

[tiers.tier1]
title = "Trusted"
source = "Operator decision 2026-04"
as_of = 2026-04-01
rank = 1
groups = ["ai_diffusion_tier1", "eea_partners"]

[rules.tier2]
actions = ["inference"]
regions = ["eea_partners", "US"]

[origin]
unknown_origin = "deny"
"""
    )
    policy = load_policy(shipped_policy_dir(), override)
    assert policy.groups["eea_partners"].countries == ("CH", "IS", "LI")
    assert policy.tiers["tier1"].groups == ("ai_diffusion_tier1", "eea_partners")
    assert policy.index.tier_of_country["CH"] == "tier1"
    assert policy.rules["tier2"].actions == ("inference",)
    assert policy.rules["tier2"].caps == Caps()  # a replaced rule is replaced whole
    assert policy.index.rule_regions["tier2"] == frozenset({"CH", "IS", "LI", "US"})
    # [origin] is merged key by key: deny comes from the shipped folder.
    assert policy.origin.deny == ("tier3",)
    assert policy.origin.unknown_origin == "deny"
    assert policy.rules["tier3"] == SHIPPED.rules["tier3"]
    assert policy.sources[-1] == str(override / "local.toml")
    assert policy.hash != SHIPPED.hash


def test_a_folder_is_not_a_policy_without_tiers(tmp_path: Path) -> None:
    (tmp_path / "groups.toml").write_text(
        '[groups.a]\ntitle = "A"\nsource = "S"\nas_of = 2026-01-01\ncountries = ["US"]\n'
    )
    with pytest.raises(PolicyError) as exc:
        load_policy(tmp_path)
    assert str(exc.value) == f"{tmp_path}: no tier is defined (add [tiers.<name>] tables)"


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as exc:
        load_policy(shipped_policy_dir(), tmp_path / "nowhere")
    assert str(exc.value) == f"{tmp_path / 'nowhere'}: not a directory"


# Each fixture folder is a deployment override of the shipped policy with one mistake.
BAD = {
    "bad_toml": "local.toml:2: invalid TOML: Expected ']' at the end of a table declaration (column 17)",
    "bad_unknown_country": "countries.toml:7: groups.partners.countries[2]: "
    "unknown country code 'XX' (not an ISO 3166-1 alpha-2 code)",
    "bad_unknown_region": "countries.toml:5: groups.occupied.regions[1]: "
    "unknown region code 'UA-99' (not an ISO 3166-2 code)",
    "bad_undefined_tier": "rules.toml:2: rules.tier9: rule for undefined tier 'tier9'",
    "bad_undefined_default_tier": "tiers.toml:1: default_tier: undefined tier 'middle'",
    "bad_undefined_group": "tiers.toml:8: tiers.tier1.groups[1]: undefined group 'nato'",
    "bad_negative_cap": "rules.toml:7: rules.tier2.caps.max_gpus_per_job: expected `int` >= 0",
    "bad_cap_type": "rules.toml:4: rules.tier2.caps.tokens_per_day: expected `int | null`, got `str`",
    "bad_unknown_action": "rules.toml:4: rules.tier2.actions[1]: "
    "unknown action 'pretrain' (expected one of: inference, fine_tune, train, cluster_job)",
    "bad_unknown_field": "countries.toml:5: groups.partners.countires: object contains unknown field `countires`",
    "bad_missing_field": "countries.toml:1: groups.partners: object missing required field `source`",
    "bad_origin_deny": "rules.toml:3: origin.deny[1]: undefined tier or group 'embargoed'",
    "bad_region_group": "rules.toml:3: rules.tier2.regions[1]: "
    "undefined group 'eu_members' (regions are alpha-2 codes, group names or \"*\")",
    "bad_region_country": "rules.toml:3: rules.tier2.regions[1]: "
    "unknown country code 'UK' (not an ISO 3166-1 alpha-2 code)",
    "bad_duplicate_rank": "tiers.toml:5: tiers.tier4.rank: rank 3 is also the rank of tier 'tier3'; ranks must differ",
    "bad_tier_without_rule": "tiers.toml:1: tiers.tier4: tier 'tier4' has no rule (add [rules.tier4])",
    "bad_ownership_threshold": "thresholds.toml:2: thresholds.ownership_threshold: expected `float` <= 100.0",
    "bad_training_fraction": "thresholds.toml:12: thresholds.training[1].alert_fractions[1]: "
    "expected `float` <= 1.0",
    "bad_top_level_key": "limits.toml:3: limits: unknown key (expected one of: "
    "accelerators, compute, currency, default_tier, detection, gpu_prices, groups, model_prices, origin,"
    " parameters, plans, rules, thresholds, tiers)",
    "bad_name_clash": "countries.toml:1: groups.tier1: 'tier1' is both a group and a tier; names must differ",
    "bad_plan_tier": "plans.toml:3: plans.partners.tiers[1]: undefined tier 'gold'",
    "bad_plan_window": "plans.toml:3: plans.partners.limits[0]: give a period or rolling_days, not both",
    "bad_training_jurisdiction": "thresholds.toml:8: thresholds.training[0].jurisdiction: unknown jurisdiction"
    " 'Europe' (an ISO 3166-1 alpha-2 code, or a group's name in upper case: 'EU' for [groups.eu])",
    "bad_training_report_days": "thresholds.toml:17: thresholds.training[1].report_within_days: "
    "expected `int` >= 1",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_policy_names_file_line_and_reason(name: str) -> None:
    folder = FIXTURES / name
    with pytest.raises(PolicyError) as exc:
        load_policy(shipped_policy_dir(), folder)
    assert str(exc.value) == f"{folder}/{BAD[name]}"


def test_bad_fixture_folders_all_have_a_case() -> None:
    assert {p.name for p in FIXTURES.iterdir() if p.name.startswith("bad_")} == {
        *BAD,
        *BAD_CATALOG,
        "bad_duplicate_in_folder",
    }


def test_a_name_defined_twice_in_one_folder() -> None:
    folder = FIXTURES / "bad_duplicate_in_folder"
    with pytest.raises(PolicyError) as exc:
        load_policy(shipped_policy_dir(), folder)
    assert str(exc.value) == (
        f"{folder}/b.toml:3: groups.partners: group 'partners' is already defined in {folder}/a.toml:1"
    )


def test_a_later_folder_may_redefine_what_an_earlier_one_defined(tmp_path: Path) -> None:
    group = '[groups.partners]\ntitle = "Partners"\nsource = "S"\nas_of = 2026-01-01\ncountries = [{}]\n'
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "groups.toml").write_text(group.format('"US"'))
    (second / "groups.toml").write_text(group.format('"GB", "IE"'))
    policy = load_policy(shipped_policy_dir(), first, second)
    assert policy.groups["partners"].countries == ("GB", "IE")


def test_plans_apply_by_tier_and_kyc_level_and_count_in_the_hash(tmp_path) -> None:
    shipped = load_policy(shipped_policy_dir())
    assert [name for name, _ in shipped.plans_for("tier2", "standard")] == [
        "default",
        "standard_due_diligence",
    ]
    assert [name for name, _ in shipped.plans_for("tier1", "enhanced")] == ["default"]
    (tmp_path / "plans.toml").write_text(
        '[plans.partners]\ntitle = "Partners"\ntiers = ["tier1"]\n'
        'limits = [{ dimension = "flop", period = "month", limit = 1e24, hard = true }]\n'
    )
    extended = load_policy(shipped_policy_dir(), tmp_path)
    assert [name for name, _ in extended.plans_for("tier1", "standard")] == [
        "default",
        "partners",
        "standard_due_diligence",
    ]
    assert extended.plans_for("tier2", "standard") == shipped.plans_for("tier2", "standard")
    assert extended.hash != shipped.hash


def test_training_reporting_fields_are_loaded_and_hashed_only_when_set(tmp_path: Path) -> None:
    eu = {t.name: t for t in SHIPPED.thresholds.training}["eu"]
    assert (eu.jurisdiction, eu.report_within_days) == ("EU", 14)
    general = {t.name: t for t in SHIPPED.thresholds.training}["general"]
    assert (general.jurisdiction, general.report_within_days) == ("US", None)

    folder = copy_shipped(tmp_path)
    path = folder / "thresholds.toml"
    text = path.read_text()
    path.write_text(text.replace("report_within_days = 14", "report_within_days = 10"))
    assert load_policy(folder).hash != SHIPPED.hash

    # Without the fields, the hash is the one the policy had before they existed: the thresholds
    # are hashed as their plain encoding, with nothing added for an unset field.
    import hashlib

    from gateway.policy.build import policy_hash
    from gateway.policy.model import Thresholds

    plain = msgspec.structs.replace(
        SHIPPED.thresholds,
        training=tuple(
            msgspec.structs.replace(t, jurisdiction=None, report_within_days=None)
            for t in SHIPPED.thresholds.training
        ),
    )
    encoded = msgspec.json.decode(msgspec.json.encode(plain))
    for level in encoded["training"]:
        del level["jurisdiction"], level["report_within_days"]
    assert "report_within_days" not in msgspec.json.encode(encoded).decode()
    p = SHIPPED
    mine = policy_hash(p.groups, p.tiers, p.rules, p.origin, plain, p.default_tier, p.plans,
                       p.accelerators, p.compute, p.prices)  # fmt: skip
    content = {"format": 1, "groups": p.groups, "tiers": p.tiers, "rules": p.rules, "origin": p.origin,
               "thresholds": encoded, "default_tier": p.default_tier, "plans": p.plans,
               "accelerators": p.accelerators, "compute": p.compute}  # fmt: skip
    if p.prices != type(p.prices)():
        content["prices"] = p.prices
    assert mine == hashlib.sha256(msgspec.json.encode(content, order="sorted")).hexdigest()
    assert isinstance(plain, Thresholds)
