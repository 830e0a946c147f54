"""Renamed public names keep working for a while, with a ``DeprecationWarning`` that names the
new one.

Two tools, for the two kinds of rename:

* :func:`renamed_keyword`: a keyword argument got a clearer name (``graph=`` for a concept graph
  is now ``concept_graph=``, so it cannot be mistaken for the LangGraph graph);
* :func:`moved_module`: a module moved (``knowledge/graph.py`` is now
  ``knowledge/concept_graph.py``); the old module stays as a shim that warns when imported and
  forwards every name.

Example:
    >>> import warnings
    >>> @renamed_keyword(graph="concept_graph")
    ... def size(*, concept_graph):
    ...     return len(concept_graph)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     size(graph=[1, 2])
    2
    >>> print(caught[0].message)
    size(graph=...) is deprecated: pass concept_graph=... instead.
"""

from __future__ import annotations

import functools
import importlib
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def renamed_keyword(**renames: str) -> Callable[[F], F]:
    """Accept each old keyword (``old="new"``) with a ``DeprecationWarning``, passing it as the new.

    Works for plain, ``async`` and generator functions alike: only the call's keywords change, so
    whatever the function returns (a value, a coroutine, a generator) is returned as is.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(
                            f"{fn.__name__}() got both {old}= and {new}=: pass {new}= only."
                        )
                    warnings.warn(
                        f"{fn.__name__}({old}=...) is deprecated: pass {new}=... instead.",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def moved_module(old: str, new: str) -> None:
    """Turn module ``old`` (call this from it) into a warning shim for module ``new``.

    Importing ``old`` warns once; every attribute, private ones included, is read from ``new``,
    so ``from old import X`` keeps returning the very same object as ``from new import X``.
    """
    target = importlib.import_module(new)
    shim = sys.modules[old]
    shim.__getattr__ = lambda name: getattr(target, name)  # type: ignore[method-assign]
    shim.__dir__ = lambda: dir(target)  # type: ignore[method-assign]
    warnings.warn(
        f"{old} is deprecated: import from {new} instead.", DeprecationWarning, stacklevel=3
    )
