"""What a Slurm submission asks for, read from its strings: GPU requests (GRES and TRES), node counts
and array sizes. Pure functions, no I/O; every rule rounds up, never down (see :mod:`.submit`)."""

from __future__ import annotations

import re
from typing import NamedTuple

from gateway.errors import BadRequest

from ..workload import invalid_job, unsupported_job, whole_number
from .common import MAX_ARRAY_INDEX

_GPU_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_NEGATIVE = re.compile(r"(?:^|[:=])\s*-\s*[0-9]")
_SUFFIXED = re.compile(r"[0-9]+[kmgtp]", re.IGNORECASE)
_SHARED_GPU_GRES = frozenset({"mps", "shard"})


class Ask(NamedTuple):
    """One request for GPUs: where it was read, the type it names, how many."""

    field: str
    gpu_type: str | None
    gpus: int


# --- GPU requests: GRES and TRES strings ----------------------------------------------------------


def gres_field(field: str, text: str | None) -> list[Ask]:
    """GRES or TRES strings: ``"gpu:h100:4,license:x"`` (v0.0.38 ``gres``), ``"cpu=4,gres/gpu:h100=8"``.

    Entries naming another resource (``cpu=4``, ``mem=8G``, ``license/x=1``) are not the gateway's
    to bound and are skipped; GPU shares (``shard``, ``mps``) are refused.
    """
    if text is None or not text.strip():
        return []
    asks = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            raise invalid_job(f"{field}: empty entry in {text!r}")
        rest = entry[5:] if entry[:5].lower() in ("gres/", "gres:") else entry
        name, _, _ = rest.partition(":")
        name, _, _ = name.partition("=")
        name = name.strip().lower()
        if name in _SHARED_GPU_GRES:
            raise unsupported_job(
                f"{field}: {entry!r} asks for a share of GPUs ({name}), which the gateway cannot count "
                "in whole GPUs; ask for whole GPUs (gpu:N)"
            )
        if name == "gpu":
            asks.append(_gpu_spec(field, entry, rest.lstrip()[3:], named=True))
    return asks


def gpu_count_field(field: str, value: int | str | None) -> list[Ask]:
    """``gpus``, ``gpus_per_node``, ``gpus_per_task``, ``gpus_per_socket``: ``"2"``, ``"h100:2"``, 2."""
    if value is None:
        return []
    if isinstance(value, int):
        if value < 0:
            raise invalid_job(f"{field}: must not be negative (got {value})")
        return [Ask(field, None, value)]
    if not value.strip():
        return []
    asks = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            raise invalid_job(f"{field}: empty entry in {value!r}")
        asks.append(_gpu_spec(field, entry, entry, named=False))
    return asks


def _gpu_spec(field: str, entry: str, spec: str, *, named: bool) -> Ask:
    """Read what follows a GRES name (``named``: ``""``, ``"=N"``, ``":type"``, ``":N"``,
    ``":type:N"``, ``":type=N"``) or a GPU count field's ``[type:]N``."""
    spec = spec.strip()
    if _NEGATIVE.search(spec):
        raise invalid_job(f"{field}: {entry!r}: a GPU count must not be negative")
    if named:
        if not spec:
            return Ask(field, None, 1)
        if spec[0] == "=":
            return Ask(field, None, _gpu_count(field, entry, spec[1:]))
        if spec[0] != ":":
            raise _unreadable(field, entry)
        spec = spec[1:]
    if "=" in spec:
        type_text, _, count_text = spec.partition("=")
        return Ask(field, _gpu_type(field, entry, type_text), _gpu_count(field, entry, count_text))
    parts = spec.split(":")
    if len(parts) == 1:
        count = whole_number(parts[0].strip())
        if count is not None:
            return Ask(field, None, count)
        if not named or _SUFFIXED.fullmatch(parts[0].strip()):
            # A count field needs its count ("h100" alone is not one); Slurm reads "1k" as 1024 GPUs.
            raise _unreadable(field, entry)
        return Ask(field, _gpu_type(field, entry, parts[0]), 1)
    if len(parts) == 2:
        return Ask(field, _gpu_type(field, entry, parts[0]), _gpu_count(field, entry, parts[1]))
    raise _unreadable(field, entry)


def _gpu_type(field: str, entry: str, text: str) -> str:
    text = text.strip()
    if not _GPU_TYPE.fullmatch(text):
        raise _unreadable(field, entry)
    return text.lower()


def _gpu_count(field: str, entry: str, text: str) -> int:
    count = whole_number(text.strip())
    if count is None:
        raise invalid_job(
            f"{field}: {entry!r} has no valid GPU count (a whole number of GPUs, not negative, no suffix)"
        )
    return count


def _unreadable(field: str, entry: str) -> BadRequest:
    return invalid_job(
        f"{field}: cannot read {entry!r} as a GPU request "
        "(expected gpu[:type][:count], gres/gpu[:type]=count or [type:]count)"
    )


# --- node counts and arrays -----------------------------------------------------------------------


def node_bound(field: str, value: int | str | list[int] | None) -> int | None:
    """The largest node count the job accepts: ``4``, ``"2-4"``, ``[2, 4]``, ``"1,5,9"``, ``"1-15:4"``."""
    if value is None:
        return None
    if isinstance(value, int):
        counts = [value]
    elif isinstance(value, list):
        if not 1 <= len(value) <= 2:
            raise invalid_job(f"{field}: expected [count] or [minimum, maximum], got {value!r}")
        counts = value
    else:
        if not value.strip():
            return None
        counts = [stop for _, stop, _ in _ranges(field, value, "a node count")]
    for count in counts:
        if count < 0:
            raise invalid_job(f"{field}: must not be negative (got {count})")
    bound = max(counts)
    if bound < 1:
        raise invalid_job(f"{field}: a job needs at least one node (got {value!r})")
    return bound


def array_tasks(field: str, spec: str | None) -> int:
    """How many tasks an array spec such as ``"0-49%5"``, ``"1,3,5"`` or ``"0-15:4"`` makes (1: no array)."""
    if spec is None:
        return 1
    indexes, throttle_sep, throttle = spec.partition("%")
    if throttle_sep and whole_number(throttle.strip()) is None:
        raise invalid_job(f"{field}: the limit after '%' in {spec!r} must be a whole number")
    if not indexes.strip():
        raise invalid_job(f"{field}: no array indexes in {spec!r} (e.g. '0-49', '1,3,5', '0-15:4')")
    ranges = _ranges(field, indexes, "an array index")
    top = max(stop for _, stop, _ in ranges)
    if top > MAX_ARRAY_INDEX:
        raise invalid_job(
            f"{field}: index {top} is above Slurm's largest possible array index ({MAX_ARRAY_INDEX})"
        )
    # Overlapping plain ranges count once, as in Slurm's bitmap; a stepped range that overlaps
    # another is counted twice (conservative), which no real array spec does.
    tasks, covered = 0, -1
    for start, stop in sorted((start, stop) for start, stop, step in ranges if step == 1):
        if stop > covered:
            tasks += stop - max(start, covered + 1) + 1
            covered = stop
    return tasks + sum(len(range(start, stop + 1, step)) for start, stop, step in set(ranges) if step > 1)


def _ranges(field: str, text: str, what: str) -> list[tuple[int, int, int]]:
    """``"1,3-5,0-15:4"`` -> ``[(1, 1, 1), (3, 5, 1), (0, 12, 4)]``: each stop is the last value taken."""
    ranges = []
    for raw in text.split(","):
        item = raw.strip()
        bounds, _, step_text = item.partition(":")
        first_text, dash, last_text = bounds.partition("-")
        first = whole_number(first_text.strip())
        last = whole_number(last_text.strip()) if dash else first
        step = whole_number(step_text.strip()) if ":" in item else 1
        if first is None or last is None or step is None or step < 1 or last < first:
            raise invalid_job(
                f"{field}: cannot read {item!r} in {text!r} as {what} or range "
                "(N, N-M with N <= M, or N-M:step; whole numbers, not negative)"
            )
        ranges.append((first, first + (last - first) // step * step, step))
    return ranges
