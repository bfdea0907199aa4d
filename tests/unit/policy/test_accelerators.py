"""The accelerator catalog and ``[compute]``: shipped values, lookups, overrides, hash, bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import pytest

from gateway.policy import PolicyError, load_policy, shipped_policy_dir
from gateway.policy.model import Accelerator, Compute, PeakTflops

from .helpers import SHIPPED, rebuilt

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "policies"
CATALOG = shipped_policy_dir() / "accelerators.toml"

NVL = """
[accelerators.h100-nvl]
title = "NVIDIA H100 NVL"
peak_tflops = {{ bf16 = 835, fp8 = 1671 }}
source = "NVIDIA H100 NVL datasheet"
as_of = 2025-01-01
aliases = [{aliases}]
"""


def catalog_line(text: str) -> int:
    """The line of the shipped catalog that reads ``text`` exactly."""
    return CATALOG.read_text().splitlines().index(text) + 1


def copy_shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "policy"
    shutil.copytree(shipped_policy_dir(), folder)
    return folder


def folder_with(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "local.toml").write_text(text)
    return folder


def test_shipped_compute_settings() -> None:
    assert SHIPPED.compute == Compute(utilisation=0.4, default_precision="bf16", window_days=365)


def test_shipped_catalog_peaks() -> None:
    peaks = {name: (a.peak_tflops.bf16, a.peak_tflops.fp8) for name, a in SHIPPED.accelerators.items()}
    assert peaks == {
        "a100": (312, None),
        "h100": (989, 1979),
        "h200": (989, 1979),
        "h100-pcie": (756, 1513),
        "b200": (2250, 4500),
        "gb200": (2500, 5000),
        "mi300x": (1307, 2615),
        "mi325x": (1307, 2615),
        "tpu-v5p": (459, None),
        "tpu-v6e": (918, None),
    }
    assert list(SHIPPED.accelerators) == sorted(SHIPPED.accelerators)
    for accelerator in SHIPPED.accelerators.values():
        assert accelerator.title and "datasheet" in accelerator.source
        assert str(accelerator.as_of) == "2025-01-01"
        assert list(accelerator.aliases) == sorted(set(accelerator.aliases))
    assert SHIPPED.accelerators["h100"].source == "NVIDIA H100 Tensor Core GPU datasheet"
    assert SHIPPED.accelerators["mi300x"].source == "AMD Instinct MI300X accelerator datasheet"


@pytest.mark.parametrize(
    ("asked", "name"),
    [
        ("h100", "h100"),
        ("H100", "h100"),
        ("h100-sxm", "h100"),
        (" H100-SXM5 ", "h100"),
        ("h100-pcie", "h100-pcie"),
        ("A100-PCIE", "a100"),
        ("Trillium", "tpu-v6e"),
        ("v5p", "tpu-v5p"),
        ("GB200-NVL72", "gb200"),
    ],
)
def test_accelerator_resolves_names_and_aliases_in_any_case(asked: str, name: str) -> None:
    found = SHIPPED.accelerator(asked)
    assert found is not None
    assert found == (name, SHIPPED.accelerators[name])


@pytest.mark.parametrize("asked", ["", "h100-nvl", "rtx4090", "h100 sxm"])
def test_unknown_accelerator_is_none(asked: str) -> None:
    assert SHIPPED.accelerator(asked) is None


def test_a_policy_built_in_code_has_no_catalog_and_the_default_compute() -> None:
    policy = rebuilt(accelerators=None, compute=None)
    assert policy.accelerators == {} and policy.compute == Compute()
    assert policy.accelerator("h100") is None
    assert policy.hash != SHIPPED.hash
    assert rebuilt().hash == SHIPPED.hash


def test_encoding_shows_the_catalog() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(SHIPPED))
    assert encoded["compute"] == {"utilisation": 0.4, "default_precision": "bf16", "window_days": 365}
    assert encoded["accelerators"]["a100"]["peak_tflops"] == {"bf16": 312.0}  # no fp8: left out
    assert encoded["accelerators"]["h100"]["peak_tflops"] == {"bf16": 989.0, "fp8": 1979.0}


def test_hash_changes_when_a_peak_changes(tmp_path: Path) -> None:
    folder = copy_shipped(tmp_path)
    path = folder / "accelerators.toml"
    text = path.read_text()
    assert text.count("peak_tflops = { bf16 = 2250, fp8 = 4500 }") == 1
    path.write_text(text.replace("bf16 = 2250, fp8 = 4500", "bf16 = 2250, fp8 = 4501"))
    changed = load_policy(folder)
    assert changed.accelerators["b200"].peak_tflops.fp8 == 4501
    assert changed.hash != SHIPPED.hash


def test_hash_changes_with_compute_settings(tmp_path: Path) -> None:
    folder = copy_shipped(tmp_path)
    path = folder / "accelerators.toml"
    path.write_text(path.read_text().replace("window_days = 365", "window_days = 366"))
    assert load_policy(folder).hash != SHIPPED.hash


def test_hash_ignores_alias_order_and_layout(tmp_path: Path) -> None:
    folder = copy_shipped(tmp_path)
    path = folder / "accelerators.toml"
    text = path.read_text()
    old = 'aliases = ["h100-sxm", "h100-sxm5", "h100-80gb"]'
    assert old in text
    text = text.replace(old, 'aliases = [\n  "h100-80gb", # memory\n  "h100-sxm5",\n  "h100-sxm",\n]')
    text = text.replace("peak_tflops = { bf16 = 312 }", "peak_tflops = { bf16 = 312.0 }")
    path.unlink()
    (folder / "zz_catalog.toml").write_text(text)
    assert load_policy(folder).hash == SHIPPED.hash


def test_deployment_replaces_and_adds_accelerators_and_overrides_compute_keys(tmp_path: Path) -> None:
    override = folder_with(
        tmp_path,
        "deployment",
        """
[compute]
utilisation = 0.3

[accelerators.h100]
title = "NVIDIA H100 SXM, as measured here"
peak_tflops = { bf16 = 900 }
source = "Operator benchmark 2026-04"
as_of = 2026-04-01
"""
        + NVL.format(aliases='"h100-nvl-94gb"'),
    )
    policy = load_policy(shipped_policy_dir(), override)
    assert policy.compute == Compute(utilisation=0.3, default_precision="bf16", window_days=365)
    h100 = policy.accelerators["h100"]
    assert h100.peak_tflops == PeakTflops(bf16=900)
    assert h100.aliases == ()  # replaced whole: the shipped aliases are gone
    assert policy.accelerator("h100-sxm") is None
    assert policy.accelerator("H100-NVL-94GB") == ("h100-nvl", policy.accelerators["h100-nvl"])
    assert policy.accelerators["a100"] == SHIPPED.accelerators["a100"]
    assert len(policy.accelerators) == len(SHIPPED.accelerators) + 1
    assert policy.hash != SHIPPED.hash


def test_a_deployment_may_reuse_the_alias_of_an_accelerator_it_replaces(tmp_path: Path) -> None:
    override = folder_with(
        tmp_path,
        "deployment",
        """
[accelerators.h100]
title = "NVIDIA H100 SXM"
peak_tflops = { bf16 = 989, fp8 = 1979 }
source = "NVIDIA H100 Tensor Core GPU datasheet"
as_of = 2025-01-01
"""
        + NVL.format(aliases='"h100-sxm"'),
    )
    policy = load_policy(shipped_policy_dir(), override)
    assert policy.accelerator("h100-sxm") == ("h100-nvl", policy.accelerators["h100-nvl"])


def test_default_precision_may_change_when_every_accelerator_has_it(tmp_path: Path) -> None:
    fp8 = tmp_path / "fp8"
    fp8.mkdir()
    text = CATALOG.read_text()
    text = text.replace('default_precision = "bf16"', 'default_precision = "fp8"')
    for old, new in [
        ("{ bf16 = 312 }", "{ bf16 = 312, fp8 = 1 }"),
        ("{ bf16 = 459 }", "{ bf16 = 459, fp8 = 1 }"),
    ]:
        text = text.replace(old, new)
    text = text.replace("{ bf16 = 918 }", "{ bf16 = 918, fp8 = 1 }")
    (fp8 / "accelerators.toml").write_text(text)
    policy = load_policy(shipped_policy_dir(), fp8)
    assert policy.compute.default_precision == "fp8"

    # An accelerator added later without an fp8 peak is the mistake, where it is written.
    later = folder_with(tmp_path, "later", NVL.format(aliases="").replace(", fp8 = 1671", ""))
    with pytest.raises(PolicyError) as exc:
        load_policy(shipped_policy_dir(), fp8, later)
    line = text.splitlines().index('default_precision = "fp8"') + 1
    assert str(exc.value) == (
        f"{later}/local.toml:4: accelerators.h100-nvl.peak_tflops: "
        f"no fp8 peak: compute.default_precision is 'fp8' ({fp8}/accelerators.toml:{line})"
    )


def test_an_alias_may_not_be_the_accelerators_own_name(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "deployment", NVL.format(aliases='"h100-nvl"'))
    with pytest.raises(PolicyError) as exc:
        load_policy(shipped_policy_dir(), folder)
    assert str(exc.value) == (
        f"{folder}/local.toml:7: accelerators.h100-nvl.aliases[0]: alias 'h100-nvl' is the accelerator's own name"
    )


def test_the_same_alias_twice_in_one_list_is_harmless(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "deployment", NVL.format(aliases='"nvl", "nvl"'))
    policy = load_policy(shipped_policy_dir(), folder)
    assert policy.accelerators["h100-nvl"].aliases == ("nvl",)


def test_compute_keys_are_set_once_per_folder(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "deployment", "[compute]\nutilisation = 0.3\n")
    (folder / "more.toml").write_text("[compute]\nutilisation = 0.5\n")
    with pytest.raises(PolicyError) as exc:
        load_policy(shipped_policy_dir(), folder)
    assert str(exc.value) == (
        f"{folder}/more.toml:2: compute.utilisation: already set in {folder}/local.toml:2"
    )


def test_the_catalog_model_struct_decodes_strictly() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"title": "x", "peak_tflops": {"bf16": 1}, "source": "s"}, Accelerator)


# Deployment overrides of the shipped policy with one mistake each: the message after the folder.
H100_ALIASES = catalog_line('aliases = ["h100-sxm", "h100-sxm5", "h100-80gb"]')
V5P_ALIASES = catalog_line('aliases = ["v5p"]')
BAD_CATALOG = {
    "bad_accelerator_peak": "accelerators.toml:3: accelerators.h100-nvl.peak_tflops.bf16: expected `float` > 0.0",
    "bad_accelerator_no_bf16": "accelerators.toml:3: accelerators.h100-nvl.peak_tflops: "
    "object missing required field `bf16`",
    "bad_accelerator_precision_key": "accelerators.toml:3: accelerators.h100-nvl.peak_tflops.fp4: "
    "object contains unknown field `fp4`",
    "bad_accelerator_name": "accelerators.toml:1: accelerators.H100_NVL: "
    "accelerator name 'H100_NVL' must be lower case letters, digits, - and _",
    "bad_accelerator_missing_field": "accelerators.toml:1: accelerators.h100-nvl: "
    "object missing required field `source`",
    "bad_alias_name": "accelerators.toml:6: accelerators.h100-nvl.aliases[0]: "
    "alias 'H100 NVL' must be lower case letters, digits, - and _",
    "bad_alias_is_a_name": "accelerators.toml:8: accelerators.h100-nvl.aliases[1]: "
    f"alias 'h100' is the name of accelerator 'h100' ({CATALOG}:{catalog_line('[accelerators.h100]')})",
    "bad_alias_twice": "accelerators.toml:6: accelerators.h100-nvl.aliases[0]: "
    "alias 'h100-sxm' is already an alias of accelerator 'h100' "
    f"({CATALOG}:{H100_ALIASES})",
    "bad_name_is_an_alias": "accelerators.toml:1: accelerators.v5p: "
    "accelerator name 'v5p' is already an alias of accelerator 'tpu-v5p' "
    f"({CATALOG}:{V5P_ALIASES})",
    "bad_compute_utilisation": "local.toml:2: compute.utilisation: expected `float` > 0.0",
    "bad_compute_unknown_key": "local.toml:3: compute.utilization: object contains unknown field `utilization`",
    "bad_compute_precision": "local.toml:2: compute.default_precision: "
    "unknown precision 'fp16' (expected one of: bf16, fp8)",
    "bad_compute_precision_missing": "local.toml:3: compute.default_precision: "
    f"accelerator 'a100' has no fp8 peak ({CATALOG}:{catalog_line('peak_tflops = { bf16 = 312 }')})",
    "bad_compute_window": "local.toml:2: compute.window_days: expected `int` >= 1",
}


@pytest.mark.parametrize("name", sorted(BAD_CATALOG))
def test_bad_catalog_names_file_line_and_reason(name: str) -> None:
    folder = FIXTURES / name
    with pytest.raises(PolicyError) as exc:
        load_policy(shipped_policy_dir(), folder)
    assert str(exc.value) == f"{folder}/{BAD_CATALOG[name]}"


def test_a_training_threshold_scope_is_all_eu_or_bio(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path,
        "deployment",
        '[[thresholds.training]]\nname = "us"\nflop = 1e26\nalert_fractions = [1.0]\nscope = "us"\n'
        'source = "S"\nas_of = 2026-01-01\n',
    )
    with pytest.raises(PolicyError) as exc:
        load_policy(shipped_policy_dir(), folder)
    assert str(exc.value) == f"{folder}/local.toml:5: thresholds.training[0].scope: invalid enum value 'us'"
