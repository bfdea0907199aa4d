"""(being built: issue 17)"""

from __future__ import annotations

from typing import Any

console_routes: list[Any] = []
