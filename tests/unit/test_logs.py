"""Every line on stderr is one JSON object: structlog's and every stdlib logger's alike."""

from __future__ import annotations

import json
import subprocess
import sys

# Run in a fresh interpreter: configuring logging is process-wide, and pytest has its own handlers.
EMIT = r"""
import asyncio, logging, warnings
import structlog
from gateway.logs import configure_logging

configure_logging("info")
password = "hunter2-local-secret"  # a local: must not reach the log through a traceback
try:
    raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
except OSError:
    logging.getLogger("asyncpg.pool").warning(
        "Failed to restore the pool connection floor; retrying", exc_info=True
    )
logging.getLogger("_granian").warning("granian says %s", "hello")
logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
logging.getLogger("litestar").error("litestar says", exc_info=ValueError("boom"))
logging.getLogger("asyncio").error("Task exception was never retrieved")
warnings.warn("a library's warning", DeprecationWarning, stacklevel=1)
structlog.get_logger("gateway").warning("gateway_event", token="gk_secret", n=1)
logging.getLogger("asyncpg").debug("below the level: not written")
"""


def test_stdlib_loggers_write_the_same_json_lines_as_structlog() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", EMIT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # each line is one JSON object
    for line in lines:
        assert {"level", "event", "timestamp"} <= set(line), line
    by_event = {line["event"]: line for line in lines}
    floor = by_event["Failed to restore the pool connection floor; retrying"]
    assert (floor["level"], floor["logger"]) == ("warning", "asyncpg.pool")
    (exc,) = floor["exception"]  # a structured traceback, as structlog renders one
    assert exc["exc_type"] == "ConnectionRefusedError" and exc["frames"]
    assert all("locals" not in frame or not frame["locals"] for frame in exc["frames"])
    assert "hunter2-local-secret" not in done.stderr
    assert by_event["granian says hello"]["logger"] == "_granian"
    assert by_event["Invalid HTTP request received."]["logger"] == "uvicorn.error"
    assert by_event["litestar says"]["exception"][0]["exc_type"] == "ValueError"
    assert by_event["Task exception was never retrieved"]["level"] == "error"
    assert any("a library's warning" in line["event"] for line in lines)  # py.warnings
    assert by_event["gateway_event"]["token"] == "[redacted]"
    assert "below the level" not in done.stderr
