"""Every Python code block in the docs runs, in order, page by page, so the docs never rot.

Blocks fenced as ```python run; blocks fenced as ```text or ```bash are shown, not run.
"""

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "```python" in p.read_text())
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_code_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for number, block in enumerate(BLOCK.findall(page.read_text()), 1):
        try:
            exec(compile(block, f"{page.name}[block {number}]", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page.name}, code block {number} failed: {exc!r}\n{block}")


def test_api_reference_is_current_and_complete():
    import importlib.util
    import inspect

    spec = importlib.util.spec_from_file_location("gen_api", DOCS / "gen_api.py")
    gen_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_api)
    missing = [f"{title}.{name}" for title, namespace, _ in gen_api.SECTIONS if namespace
               for name in gen_api.public_names(namespace)
               if not inspect.getdoc(getattr(namespace, name))]
    assert not missing, f"public names without a docstring: {missing}"
    assert (DOCS / "api.md").read_text() == gen_api.render(), \
        "docs/api.md is stale: run `python docs/gen_api.py`"
