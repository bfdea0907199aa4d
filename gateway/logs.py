"""structlog, as JSON lines on stderr, with no secrets and no personal data.

Exceptions are rendered as structured tracebacks *without local variables*: locals
would carry API keys and customer facts into the logs.

The libraries' stdlib loggers (asyncpg, granian, uvicorn, litestar, asyncio, ``warnings``)
are rendered by the same processors, through :func:`json_formatter` on the root logger's one
handler: a database outage's tracebacks are JSON lines too, not lines of text among them.
:func:`logging_config` is also what granian and uvicorn are given, so their own loggers
propagate to that handler instead of printing text to stdout.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

# Keys that must never reach a log line, whatever a caller passes.
REDACTED_KEYS = frozenset({"authorization", "x-api-key", "api_key", "key", "secret", "password", "token"})


def _redact(_logger: object, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in REDACTED_KEYS.intersection(event):
        event[key] = "[redacted]"
    return event


def _pre_chain() -> list[structlog.typing.Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]


def _render() -> list[structlog.typing.Processor]:
    return [
        structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        ),
        structlog.processors.JSONRenderer(),
    ]


def processors() -> list[structlog.typing.Processor]:
    return [*_pre_chain(), *_render()]


def json_formatter() -> logging.Formatter:
    """A stdlib record as the JSON line structlog would write: level, event, timestamp, logger,
    the exception as a structured traceback without locals, redacted keys."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_pre_chain(), structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_render()],
    )


# The servers' loggers lose their own handlers (text, granian's on stdout) and propagate to root.
_SERVER_LOGGERS = ("_granian", "granian.access", "uvicorn", "uvicorn.error", "uvicorn.access")


def logging_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the stdlib side: only strings, so that it can be handed
    to granian (``log_dictconfig``) and uvicorn (``log_config``) and on to their worker processes."""
    name = logging.getLevelName(_LEVELS[level])
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.json_formatter"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "json"}
        },
        "loggers": {logger: {"handlers": [], "propagate": True} for logger in _SERVER_LOGGERS},
        "root": {"handlers": ["stderr"], "level": name},
    }


def configure_logging(level: str = "info") -> None:
    structlog.configure(
        processors=processors(),
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        # One write per line, like the stdlib handler's: lines from both never interleave.
        logger_factory=structlog.WriteLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(logging_config(level))
    logging.captureWarnings(True)  # warnings.warn() as a log line of "py.warnings", not text
