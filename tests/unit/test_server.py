"""``gateway serve`` hands its workers the settings it resolved, in memory (gateway/server.py)."""

from __future__ import annotations

import functools
import os
import pickle
from pathlib import Path

import pytest

from gateway import server
from gateway.app import create_app
from gateway.settings import Settings, load_settings
from tests.conftest import TEST_KYC_KEYS


@pytest.mark.parametrize("name", ["gateway", "granian", "uvicorn"])
def test_workers_get_the_resolved_settings_and_the_environment_is_untouched(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    handed: list[Settings] = []

    async def migrated(url: str, settings: Settings) -> None:
        return None

    monkeypatch.setattr(server, "configure_logging", lambda level: None)
    monkeypatch.setattr(server, "resolve_database_url", lambda s: "postgresql://gw:pw@db.invalid/gw")
    monkeypatch.setattr(server, "PolicyStore", lambda *args, **kwargs: None)
    monkeypatch.setattr(server, "_migrate", migrated)
    monkeypatch.setattr(server, "_serve_granian", handed.append)
    monkeypatch.setattr(server, "_serve_uvicorn", handed.append)
    monkeypatch.setattr(server, "_serve_own", handed.append)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        None, environ={"GATEWAY_KYC_KEYS": TEST_KYC_KEYS}, state_dir="state", server=name, port=9123
    )
    before = dict(os.environ)
    server.serve(settings)
    assert dict(os.environ) == before
    (resolved,) = handed
    assert resolved.database_url == "postgresql://gw:pw@db.invalid/gw"
    assert resolved.state_dir == str(tmp_path.resolve() / "state")
    assert (resolved.port, resolved.kyc_keys) == (9123, TEST_KYC_KEYS)
    # uvicorn pickles its configuration, app factory included, into each worker it spawns.
    loader = pickle.loads(pickle.dumps(functools.partial(create_app, resolved)))
    assert loader.func is create_app and loader.args == (resolved,)
