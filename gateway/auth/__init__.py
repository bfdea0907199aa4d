"""Authentication of customers by their identity provider's tokens (OIDC bearer JWTs)."""

from .oidc import Claims, OIDCValidator

__all__ = ["Claims", "OIDCValidator"]
