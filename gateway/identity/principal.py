"""The caller, as every later stage sees it."""

from __future__ import annotations

import uuid

import msgspec


class Principal(msgspec.Struct, frozen=True):
    customer_id: uuid.UUID
    project_id: uuid.UUID
    key_id: str
