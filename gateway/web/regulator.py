"""(being built: issue 17)"""

from __future__ import annotations

from typing import Any

regulator_routes: list[Any] = []
