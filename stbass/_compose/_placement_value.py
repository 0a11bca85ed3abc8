"""``Placement``: where a process should run. A plain value, below processes and
results (which carry it) and placement backends (which read it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, final


@final
class Placement:
    """Where a process should run: a model name, an endpoint, and free-form config.

    >>> Placement(model="gpt-4o", endpoint="openai:eu").summary
    'model=gpt-4o endpoint=openai:eu'
    """

    __slots__ = ("model", "endpoint", "config")

    def __init__(
        self,
        model: str | None = None,
        endpoint: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        for label, value in (("model", model), ("endpoint", endpoint)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"Placement: {label} must be a str, got {type(value).__name__}")
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(f"Placement: config must be a mapping, got {type(config).__name__}")
        self.model = model
        self.endpoint = endpoint
        self.config: dict[str, Any] = dict(config) if config else {}

    @property
    def summary(self) -> str:
        """One line for messages and spans: the fields that are set, or ``"local"``.

        >>> Placement(model="llama", config={"temperature": 0.2}).summary
        'model=llama config=temperature=0.2'
        >>> Placement().summary
        'local'
        """
        parts = []
        if self.model is not None:
            parts.append(f"model={self.model}")
        if self.endpoint is not None:
            parts.append(f"endpoint={self.endpoint}")
        if self.config:
            parts.append("config=" + ",".join(f"{k}={v!r}" for k, v in self.config.items()))
        return " ".join(parts) or "local"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Placement):
            return NotImplemented
        return (self.model, self.endpoint, self.config) == (other.model, other.endpoint, other.config)

    def __hash__(self) -> int:
        return hash((self.model, self.endpoint))

    def __repr__(self) -> str:
        args = []
        if self.model is not None:
            args.append(f"model={self.model!r}")
        if self.endpoint is not None:
            args.append(f"endpoint={self.endpoint!r}")
        if self.config:
            args.append(f"config={self.config!r}")
        return f"Placement({', '.join(args)})"
