"""The compute KYC gateway."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The version is read from the installed package's metadata when first asked for, not on import:
    # importlib.metadata would cost every process that imports the gateway (each CLI command) its
    # import and a scan of the installed distributions.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("compute-kyc-gateway")
    except PackageNotFoundError:  # running from a source tree without installing
        found = "0.0.0+source"
    globals()["__version__"] = found
    return found
