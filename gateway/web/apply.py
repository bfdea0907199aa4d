"""(being built: issue 17)"""

from __future__ import annotations

from typing import Any

apply_routes: list[Any] = []
