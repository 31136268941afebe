"""Write docs/api.md, the API reference, from the public names' docstrings.

    python docs/gen_api.py          # rewrite docs/api.md
The test suite checks that the file is current and that every public name has a docstring.
"""

from __future__ import annotations

import inspect
import pathlib
import types

import symgraph as sg

SECTIONS = [  # (title, namespace, filter)
    ("symgraph", sg, None),
    ("symgraph.nn", getattr(sg, "nn", None), None),
    ("symgraph.random", getattr(sg, "random", None), None),
    ("symgraph.eager", getattr(sg, "eager", None), None),
    ("symgraph.testing", getattr(sg, "testing", None), None),
]


def public_names(namespace: types.ModuleType) -> list[str]:
    """Names a user reaches: functions and classes re-exported by the namespace."""
    names = []
    for name, value in sorted(vars(namespace).items()):
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if inspect.isfunction(value) or inspect.isclass(value):
            names.append(name)
    return names


def entry(qualified: str, value: object) -> str:
    try:
        signature = str(inspect.signature(value))
    except (TypeError, ValueError):
        signature = "(...)"
    doc = inspect.getdoc(value) or ""
    kind = "class " if inspect.isclass(value) else ""
    return f"### `{kind}{qualified}{signature}`\n\n{doc}\n"


def render() -> str:
    parts = ["# API reference\n",
             "Generated from the docstrings by `python docs/gen_api.py`; do not edit by hand.\n"]
    for title, namespace, _ in SECTIONS:
        if namespace is None:
            continue
        parts.append(f"## {title}\n")
        for name in public_names(namespace):
            parts.append(entry(f"{title}.{name}", getattr(namespace, name)))
    return "\n".join(parts)


if __name__ == "__main__":
    path = pathlib.Path(__file__).with_name("api.md")
    path.write_text(render())
    print(f"wrote {path}")
