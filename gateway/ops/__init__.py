"""The control plane (Litestar): health, readiness, the metrics endpoint, and the APIs of gateway/api/."""
