"""The HTTP APIs beside the proxy: admin (operators), onboarding (customers), provider webhooks,
regulators (reports, proofs, keys)."""

from .admin import admin_routes
from .detect import detect_routes
from .onboarding import onboarding_routes
from .regulator import regulator_routes
from .webhooks import webhook_routes

__all__ = ["admin_routes", "detect_routes", "onboarding_routes", "regulator_routes", "webhook_routes"]
