"""Read policy folders into one validated :class:`~gateway.policy.model.Policy`.

The shipped folder comes first, then deployment folders that override or extend it: a group, tier,
rule, plan, training threshold, accelerator, model price, GPU price or parameter rule with the same
name replaces the earlier one whole, a new name is added, and a scalar (``default_tier``,
``currency``, a key of ``[origin]`` or ``[compute]``, ``thresholds.ownership_threshold``, the whole
``[detection]`` table) replaces the earlier value.
Within one folder a name may be defined once.

Any problem stops loading with a :class:`PolicyError` naming the file, the line and the reason, so a
bad policy is caught by ``gateway policy check`` or at start-up, never in the middle of a request.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from ._locate import Locator, PathPart
from .build import make_policy
from .detection import Detection, ParameterRule
from .model import (
    ACTIONS,
    ANY_REGION,
    PRECISIONS,
    Accelerator,
    Compute,
    ComputeFile,
    GpuPrice,
    Group,
    ModelPrice,
    Origin,
    OriginFile,
    Plan,
    Policy,
    Prices,
    Rule,
    Thresholds,
    ThresholdsFile,
    Tier,
    country_codes,
    region_codes,
)

_T = TypeVar("_T")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_NAME_RULE = "lower case letters, digits and _"
_DEVICE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")  # accelerator names and aliases: h100-pcie, tpu-v5p
_DEVICE_RULE = "lower case letters, digits, - and _"
_ALPHA2 = re.compile(r"^[A-Z]{2}$")
_TOP_LEVEL = (
    "accelerators",
    "compute",
    "currency",
    "default_tier",
    "detection",
    "gpu_prices",
    "groups",
    "model_prices",
    "origin",
    "parameters",
    "plans",
    "rules",
    "thresholds",
    "tiers",
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MSGSPEC_ERROR = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MSGSPEC_PATH = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class PolicyError(Exception):
    """The policy cannot be used. The message reads ``<file>:<line>: <where>: <reason>``."""


def shipped_policy_dir() -> Path:
    """``policies/`` beside the package in a source tree; ``gateway/_policies`` in an installed wheel."""
    source_tree = Path(__file__).resolve().parents[2] / "policies"
    if source_tree.is_dir():
        return source_tree
    return Path(str(resources.files("gateway") / "_policies"))


@dataclass
class _Source:
    path: Path
    locator: Locator

    def error(self, where: tuple[PathPart, ...], reason: str, value: object = None) -> PolicyError:
        line = self.locator.line(where, value)
        at = f"{self.path}:{line}" if line is not None else f"{self.path}"
        label = _dotted(where)
        return PolicyError(f"{at}: {label}: {reason}" if label else f"{at}: {reason}")


@dataclass
class _Item:
    """A merged value and where it was written, for errors found after merging."""

    value: Any
    source: _Source
    where: tuple[PathPart, ...]


@dataclass
class _Merged:
    groups: dict[str, _Item] = field(default_factory=dict)
    tiers: dict[str, _Item] = field(default_factory=dict)
    rules: dict[str, _Item] = field(default_factory=dict)
    plans: dict[str, _Item] = field(default_factory=dict)
    training: dict[str, _Item] = field(default_factory=dict)
    accelerators: dict[str, _Item] = field(default_factory=dict)
    model_prices: dict[str, _Item] = field(default_factory=dict)
    gpu_prices: dict[str, _Item] = field(default_factory=dict)
    parameters: dict[str, _Item] = field(default_factory=dict)
    scalars: dict[str, _Item] = field(default_factory=dict)  # "default_tier", "origin.deny", ...
    files: list[Path] = field(default_factory=list)


def _dotted(path: Iterable[PathPart]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _convert(raw: object, type_: type[_T], where: tuple[PathPart, ...], source: _Source) -> _T:
    """msgspec's strict conversion, its error re-pointed at the file and line."""
    try:
        return msgspec.convert(raw, type_)
    except msgspec.ValidationError as exc:
        m = _MSGSPEC_ERROR.match(str(exc))
        assert m is not None  # the pattern matches any text
        reason = m["reason"]
        inner: list[PathPart] = [
            name if name else int(index) for name, index in _MSGSPEC_PATH.findall(m["path"] or "")
        ]
        unknown = _UNKNOWN_FIELD.search(reason)
        if unknown:
            inner.append(unknown.group(1))
        raise source.error(where + tuple(inner), reason[:1].lower() + reason[1:]) from None


def _read(path: Path) -> tuple[dict[str, Any], _Source]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text") from None
    source = _Source(path, Locator(text))
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
        m = _TOML_POSITION.search(reason)
        if m is None:
            raise PolicyError(f"{path}: invalid TOML: {reason}") from None
        reason = reason[: m.start()]
        raise PolicyError(f"{path}:{m[1]}: invalid TOML: {reason} (column {m[2]})") from None


def _table(raw: object, where: tuple[PathPart, ...], source: _Source) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise source.error(where, f"expected a table, got {type(raw).__name__}")
    return raw


def _add(
    into: dict[str, _Item],
    name: str,
    value: object,
    kind: str,
    where: tuple[PathPart, ...],
    source: _Source,
    pattern: tuple[re.Pattern[str], str] = (_NAME, _NAME_RULE),
) -> None:
    if not pattern[0].match(name):
        raise source.error(where, f"{kind} name {name!r} must be {pattern[1]}")
    if name in into:
        earlier = into[name]
        line = earlier.source.locator.line(earlier.where)
        raise source.error(where, f"{kind} {name!r} is already defined in {earlier.source.path}:{line}")
    into[name] = _Item(value, source, where)


def _check_actions(raw: dict[str, Any], where: tuple[PathPart, ...], source: _Source) -> None:
    actions = raw.get("actions")
    if not isinstance(actions, list):
        return  # msgspec reports the type
    for i, action in enumerate(actions):
        if isinstance(action, str) and action not in ACTIONS:
            expected = ", ".join(ACTIONS)
            raise source.error(
                (*where, "actions", i), f"unknown action {action!r} (expected one of: {expected})", action
            )


def _read_folder(folder: Path) -> _Merged:
    """One folder's files, each name defined once across them."""
    if not folder.is_dir():
        raise PolicyError(f"{folder}: not a directory")
    out = _Merged()
    for path in sorted(folder.glob("*.toml")):
        out.files.append(path)
        data, source = _read(path)
        for key in data:
            if key not in _TOP_LEVEL:
                raise source.error((key,), f"unknown key (expected one of: {', '.join(_TOP_LEVEL)})")
        sections: tuple[tuple[str, type[Any], dict[str, _Item], str], ...] = (
            ("groups", Group, out.groups, "group"),
            ("tiers", Tier, out.tiers, "tier"),
            ("rules", Rule, out.rules, "rule"),
            ("plans", Plan, out.plans, "plan"),
            ("accelerators", Accelerator, out.accelerators, "accelerator"),
            ("model_prices", ModelPrice, out.model_prices, "model price"),
            ("gpu_prices", GpuPrice, out.gpu_prices, "GPU price"),
            ("parameters", ParameterRule, out.parameters, "parameter rule"),
        )
        for section, type_, into, kind in sections:
            if section not in data:
                continue
            device = section in ("accelerators", "gpu_prices")
            pattern = (_DEVICE, _DEVICE_RULE) if device else (_NAME, _NAME_RULE)
            for name, raw in _table(data[section], (section,), source).items():
                where = (section, name)
                if section == "rules":
                    _check_actions(_table(raw, where, source), where, source)
                _add(into, name, _convert(raw, type_, where, source), kind, where, source, pattern)
        if "currency" in data:
            currency = _convert(data["currency"], str, ("currency",), source)
            if not _CURRENCY.match(currency):
                raise source.error(("currency",), f'{currency!r} is not an ISO 4217 code like "USD"')
            _add_scalar(out.scalars, "currency", currency, source)
        if "default_tier" in data:
            value = _convert(data["default_tier"], str, ("default_tier",), source)
            _add_scalar(out.scalars, "default_tier", value, source)
        if "origin" in data:
            origin = _convert(data["origin"], OriginFile, ("origin",), source)
            for name in OriginFile.__struct_fields__:
                if getattr(origin, name) is not None:
                    _add_scalar(out.scalars, f"origin.{name}", getattr(origin, name), source)
        if "compute" in data:
            precision = _table(data["compute"], ("compute",), source).get("default_precision")
            if isinstance(precision, str) and precision not in PRECISIONS:
                raise source.error(
                    ("compute", "default_precision"),
                    f"unknown precision {precision!r} (expected one of: {', '.join(PRECISIONS)})",
                )
            compute = _convert(data["compute"], ComputeFile, ("compute",), source)
            for name in ComputeFile.__struct_fields__:
                if getattr(compute, name) is not None:
                    _add_scalar(out.scalars, f"compute.{name}", getattr(compute, name), source)
        if "detection" in data:
            # One table, set once: a later folder's [detection] replaces the whole of it.
            detection = _convert(data["detection"], Detection, ("detection",), source)
            _add_scalar(out.scalars, "detection", detection, source)
        if "thresholds" in data:
            thresholds = _convert(data["thresholds"], ThresholdsFile, ("thresholds",), source)
            if thresholds.ownership_threshold is not None:
                _add_scalar(
                    out.scalars, "thresholds.ownership_threshold", thresholds.ownership_threshold, source
                )
            for i, training in enumerate(thresholds.training):
                _add(
                    out.training,
                    training.name,
                    training,
                    "training threshold",
                    ("thresholds", "training", i),
                    source,
                )
    return out


def _add_scalar(into: dict[str, _Item], key: str, value: object, source: _Source) -> None:
    where: tuple[PathPart, ...] = tuple(key.split("."))
    if key in into:
        earlier = into[key].source
        raise source.error(where, f"already set in {earlier.path}:{earlier.locator.line(where)}")
    into[key] = _Item(value, source, where)


def _merge(folders: Iterable[_Merged]) -> _Merged:
    """Later folders replace earlier values of the same name."""
    out = _Merged()
    for folder in folders:
        out.groups.update(folder.groups)
        out.tiers.update(folder.tiers)
        out.rules.update(folder.rules)
        out.plans.update(folder.plans)
        out.training.update(folder.training)
        out.accelerators.update(folder.accelerators)
        out.model_prices.update(folder.model_prices)
        out.gpu_prices.update(folder.gpu_prices)
        out.parameters.update(folder.parameters)
        out.scalars.update(folder.scalars)
        out.files += folder.files
    return out


def _check_codes(
    codes: Iterable[str],
    known: Callable[[], frozenset[str]],
    kind: str,
    where: tuple[PathPart, ...],
    source: _Source,
) -> None:
    for i, code in enumerate(codes):
        if code not in known():
            standard = "ISO 3166-1 alpha-2" if kind == "country" else "ISO 3166-2"
            raise source.error((*where, i), f"unknown {kind} code {code!r} (not an {standard} code)", code)


def _validate(m: _Merged, folders: list[Path]) -> None:
    groups, tiers = m.groups, m.tiers
    for name, item in groups.items():
        group: Group = item.value
        _check_codes(group.countries, country_codes, "country", ("groups", name, "countries"), item.source)
        _check_codes(group.regions, region_codes, "region", ("groups", name, "regions"), item.source)
    ranks: dict[int, str] = {}
    for name, item in tiers.items():
        tier: Tier = item.value
        where = ("tiers", name)
        if name in groups:
            # Report it where it was written last: that is the edit that made the clash.
            clash = groups[name]
            if m.files.index(clash.source.path) > m.files.index(item.source.path):
                raise clash.source.error(
                    clash.where, f"{name!r} is both a group and a tier; names must differ"
                )
            raise item.source.error(where, f"{name!r} is both a group and a tier; names must differ")
        _check_codes(tier.countries, country_codes, "country", (*where, "countries"), item.source)
        _check_codes(tier.regions, region_codes, "region", (*where, "regions"), item.source)
        for i, group_name in enumerate(tier.groups):
            if group_name not in groups:
                raise item.source.error((*where, "groups", i), f"undefined group {group_name!r}", group_name)
        if tier.rank in ranks:
            raise item.source.error(
                (*where, "rank"),
                f"rank {tier.rank} is also the rank of tier {ranks[tier.rank]!r}; ranks must differ",
            )
        ranks[tier.rank] = name
        if name not in m.rules:
            raise item.source.error(where, f"tier {name!r} has no rule (add [rules.{name}])")
    for name, item in m.rules.items():
        rule: Rule = item.value
        where = ("rules", name)
        if name not in tiers:
            raise item.source.error(where, f"rule for undefined tier {name!r}")
        for i, region in enumerate(rule.regions):
            if region == ANY_REGION or region in groups:
                continue
            if _ALPHA2.match(region):
                if region not in country_codes():
                    raise item.source.error(
                        (*where, "regions", i),
                        f"unknown country code {region!r} (not an ISO 3166-1 alpha-2 code)",
                        region,
                    )
                continue
            raise item.source.error(
                (*where, "regions", i),
                f'undefined group {region!r} (regions are alpha-2 codes, group names or "*")',
                region,
            )
    default = m.scalars.get("default_tier")
    read = ", ".join(str(f) for f in folders)
    if not tiers:
        raise PolicyError(f"{read}: no tier is defined (add [tiers.<name>] tables)")
    if default is None:
        raise PolicyError(f"{read}: default_tier is not set (set it at the top of tiers.toml)")
    if default.value not in tiers:
        raise default.source.error(("default_tier",), f"undefined tier {default.value!r}")
    for section, named in (("plans", m.plans), ("parameters", m.parameters)):
        for name, item in named.items():
            for i, tier_name in enumerate(item.value.tiers):
                if tier_name not in tiers:
                    raise item.source.error(
                        (section, name, "tiers", i), f"undefined tier {tier_name!r}", tier_name
                    )
    for item in m.training.values():
        jurisdiction = item.value.jurisdiction
        if jurisdiction is None or jurisdiction in country_codes():
            continue
        if jurisdiction.isupper() and jurisdiction.lower() in groups:
            continue
        raise item.source.error(
            (*item.where, "jurisdiction"),
            f"unknown jurisdiction {jurisdiction!r} (an ISO 3166-1 alpha-2 code, or a group's name in"
            " upper case: 'EU' for [groups.eu])",
        )
    deny = m.scalars.get("origin.deny")
    if deny is not None:
        for i, entry in enumerate(deny.value):
            if entry not in tiers and entry not in groups:
                raise deny.source.error(("origin", "deny", i), f"undefined tier or group {entry!r}", entry)


def _position(
    m: _Merged, source: _Source, where: tuple[PathPart, ...], value: object = None
) -> tuple[int, int]:
    """Where something was written, in reading order: later folders and files, then later lines."""
    return m.files.index(source.path), source.locator.line(where, value) or 0


def _at(source: _Source, where: tuple[PathPart, ...], value: object = None) -> str:
    return f"{source.path}:{source.locator.line(where, value)}"


def _validate_accelerators(m: _Merged) -> None:
    """Alias names, names and aliases that claim the same name, and the default precision.

    A clash is reported where it was written last: that is the edit that made it.
    """
    # (position, claimed name, accelerator, where, is_alias, item)
    claims: list[tuple[tuple[int, int], str, str, tuple[PathPart, ...], bool, _Item]] = []
    for name, item in m.accelerators.items():
        accelerator: Accelerator = item.value
        claims.append((_position(m, item.source, item.where), name, name, item.where, False, item))
        for i, alias in enumerate(accelerator.aliases):
            where = (*item.where, "aliases", i)
            if not _DEVICE.match(alias):
                raise item.source.error(where, f"alias {alias!r} must be {_DEVICE_RULE}", alias)
            claims.append((_position(m, item.source, where, alias), alias, name, where, True, item))
    claimed: dict[str, tuple[str, tuple[PathPart, ...], bool, _Item]] = {}
    for _, key, owner, where, is_alias, item in sorted(claims, key=lambda c: c[0]):
        earlier = claimed.get(key)
        if earlier is None:
            claimed[key] = (owner, where, is_alias, item)
            continue
        first_owner, first_where, first_is_alias, first_item = earlier
        if first_owner == owner and first_is_alias and is_alias:
            continue  # the same alias twice in one list: harmless
        alias_value = key if is_alias else None
        if first_owner == owner:
            reason = f"alias {key!r} is the accelerator's own name"
        elif not first_is_alias:
            at = _at(first_item.source, first_where)
            reason = f"alias {key!r} is the name of accelerator {first_owner!r} ({at})"
        else:
            what = "alias" if is_alias else "accelerator name"
            reason = (
                f"{what} {key!r} is already an alias of accelerator {first_owner!r} "
                f"({_at(first_item.source, first_where, key)})"
            )
        raise item.source.error(where, reason, alias_value)

    precision_item = m.scalars.get("compute.default_precision")
    precision = Compute().default_precision if precision_item is None else precision_item.value
    for name, item in m.accelerators.items():
        accelerator = item.value
        if accelerator.peak_tflops.at(precision) is not None:
            continue
        where = (*item.where, "peak_tflops")
        if precision_item is not None and _position(
            m, precision_item.source, precision_item.where
        ) > _position(m, item.source, where):
            raise precision_item.source.error(
                precision_item.where,
                f"accelerator {name!r} has no {precision} peak ({_at(item.source, where)})",
            )
        set_at = f" ({_at(precision_item.source, precision_item.where)})" if precision_item else ""
        raise item.source.error(
            where, f"no {precision} peak: compute.default_precision is {precision!r}{set_at}"
        )


def _validate_prices(m: _Merged) -> None:
    """Every priced GPU is in the catalog; no model name or pattern is priced twice."""
    for name, item in m.gpu_prices.items():
        if name not in m.accelerators:
            hint = ""
            for catalog_name, acc in m.accelerators.items():
                if name in acc.value.aliases:
                    hint = f" (it is an alias of {catalog_name!r}: price the catalog name)"
            raise item.source.error(item.where, f"{name!r} is not an accelerator of the catalog{hint}")
    claims: list[tuple[tuple[int, int], str, str, tuple[PathPart, ...], _Item]] = []
    for name, item in m.model_prices.items():
        for i, model in enumerate(item.value.models):
            where = (*item.where, "models", i)
            if not model.strip():
                raise item.source.error(where, "a model name must not be empty", model)
            if model != model.strip():
                raise item.source.error(
                    where, f"{model!r} has spaces around it: no request names that", model
                )
            claims.append((_position(m, item.source, where, model), model, name, where, item))
    claimed: dict[str, tuple[str, tuple[PathPart, ...], _Item]] = {}
    for _, model, name, where, item in sorted(claims, key=lambda c: c[0]):
        earlier = claimed.setdefault(model, (name, where, item))
        if earlier[0] != name:  # the same name twice in one list is harmless
            at = _at(earlier[2].source, earlier[1], model)
            raise item.source.error(where, f"{model!r} is already priced by {earlier[0]!r} ({at})", model)


def _scalar(m: _Merged, key: str, default: _T) -> _T:
    item = m.scalars.get(key)
    return default if item is None else item.value


def load_policy(*dirs: Path) -> Policy:
    """The effective policy of ``dirs`` (the shipped folder first, then overrides); none: the shipped one."""
    folders = [Path(d) for d in dirs] or [shipped_policy_dir()]
    merged = _merge(_read_folder(folder) for folder in folders)
    _validate(merged, folders)
    _validate_accelerators(merged)
    _validate_prices(merged)
    origin = Origin(
        deny=_scalar(merged, "origin.deny", Origin().deny),
        unknown_origin=_scalar(merged, "origin.unknown_origin", Origin().unknown_origin),
        partial_country_origin=_scalar(
            merged, "origin.partial_country_origin", Origin().partial_country_origin
        ),
    )
    thresholds = Thresholds(
        ownership_threshold=_scalar(
            merged, "thresholds.ownership_threshold", Thresholds().ownership_threshold
        ),
        training=tuple(item.value for item in merged.training.values()),
    )
    compute = Compute(
        **{
            name: _scalar(merged, f"compute.{name}", getattr(Compute(), name))
            for name in Compute.__struct_fields__
        }
    )
    return make_policy(
        groups={name: item.value for name, item in merged.groups.items()},
        tiers={name: item.value for name, item in merged.tiers.items()},
        rules={name: item.value for name, item in merged.rules.items()},
        origin=origin,
        thresholds=thresholds,
        default_tier=merged.scalars["default_tier"].value,
        sources=tuple(str(path) for path in merged.files),
        plans={name: item.value for name, item in merged.plans.items()},
        accelerators={name: item.value for name, item in merged.accelerators.items()},
        compute=compute,
        prices=Prices(
            currency=_scalar(merged, "currency", Prices().currency),
            models={name: item.value for name, item in merged.model_prices.items()},
            gpus={name: item.value for name, item in merged.gpu_prices.items()},
        ),
        parameters={name: item.value for name, item in merged.parameters.items()},
        detection=_scalar(merged, "detection", Detection()),
    )
