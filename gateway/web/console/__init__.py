"""The operator console (``/web/console``): the review queue and customers, usage and denials,
training-scale flags and detection clusters, the audit log. Every page needs the operator role;
every action goes through the same services as the admin API and the CLI, audited with the actor
``operator:<subject>``."""

from __future__ import annotations

from typing import Any

from .audit import audit_routes
from .customers import customer_routes
from .dashboard import dashboard_routes
from .detection import detection_routes
from .quotas import quota_routes
from .usage import usage_routes

__all__ = ["console_routes"]

console_routes: list[Any] = [
    *dashboard_routes,
    *customer_routes,
    *quota_routes,
    *usage_routes,
    *detection_routes,
    *audit_routes,
]
