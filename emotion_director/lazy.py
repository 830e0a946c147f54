"""Package names loaded on first use (PEP 562 module ``__getattr__``), so that importing a
package costs only what its caller uses: ``import emotion_director`` does not import LangGraph,
and the eval report does not import LangChain's chat models.

Example:
    >>> import sys, types
    >>> module = types.ModuleType("demo")
    >>> module.__getattr__ = lazy_exports(module.__dict__, {"dumps": "json"})
    >>> module.dumps({"a": 1})
    '{"a": 1}'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(namespace: dict[str, Any], where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from the module ``where[name]`` on first
    use and keeps it in ``namespace`` (the package's ``globals()``), so later lookups are plain.
    """
    package = namespace.get("__name__", "module")

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
