"""How resource modules declare their endpoints; the HTTP layer (`api.py`) serves them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stripe_local.params import Obj


@dataclass(frozen=True)
class Ctx:
    """What a handler may need from the request beyond its parameters."""

    base_url: str


Handler = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class ApiRoute:
    """`handler(store, params, ctx, **path_params)` serves `method path` with `schema`."""

    method: str
    path: str
    handler: Handler
    schema: Obj
