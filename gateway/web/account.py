"""(being built: issue 17)"""

from __future__ import annotations

from typing import Any

account_routes: list[Any] = []
