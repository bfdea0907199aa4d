"""The HTTP APIs beside the proxy: admin (operators), onboarding (customers), provider webhooks."""

from .admin import admin_routes
from .onboarding import onboarding_routes
from .webhooks import webhook_routes

__all__ = ["admin_routes", "onboarding_routes", "webhook_routes"]
