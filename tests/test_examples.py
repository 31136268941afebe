"""Every script in examples/ runs, with tiny settings, in a fresh process, and prints what
it promises; and each one explains itself with --help.

The scripts run on the reference backend so the whole file takes seconds; the checks
are on results (accuracy, losses, agreement with exact answers), not just on exit codes.
"""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py") if p.stem != "compile_expr")


def run(name: str, *args: str) -> str:
    """The stdout of `python examples/NAME.py ARGS --backend python` (fails on errors)."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args,
                           "--backend", "python"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def numbers(pattern: str, text: str) -> list[float]:
    return [float(m) for m in re.findall(pattern, text)]


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_describes_the_options(name, capsys):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage:") and "--backend" in text and "--seed" in text


def test_every_script_is_tested():
    tested = {name[len("test_"):] for name in globals() if name.startswith("test_")}
    assert set(SCRIPTS) <= tested, f"examples without a test: {set(SCRIPTS) - tested}"


def test_linear_regression():
    out = run("linear_regression", "--steps", "60")
    losses = numbers(r"step +\d+  loss ([\d.]+)", out)
    assert losses[0] > 10 * losses[-1]
    gap = numbers(r"largest difference from least squares ([\d.]+)", out)
    assert gap and gap[0] < 0.01, out


def test_logistic_regression():
    out = run("logistic_regression", "--epochs", "3", "--digits", "0", "1")
    assert "0 vs 1" in out
    (accuracy,) = numbers(r"test accuracy ([\d.]+)", out)
    assert accuracy > 0.95, out


def test_mlp_digits():
    out = run("mlp_digits", "--epochs", "2", "--hidden", "32", "--optimizer", "momentum")
    assert "MLP 64-32-10, momentum, dropout 0.2" in out
    losses = numbers(r"epoch +\d+  loss ([\d.]+)", out)
    assert len(losses) == 2 and losses[1] < losses[0], out
    (accuracy,) = numbers(r"test accuracy ([\d.]+)", out)
    assert accuracy > 0.8, out


def test_kmeans_digits():
    out = run("kmeans_digits", "--iterations", "4", "--k", "10")
    inertia = numbers(r"inertia +([\d.]+)", out)
    assert len(inertia) == 4 and all(a >= b for a, b in zip(inertia, inertia[1:])), out
    (purity,) = numbers(r"purity ([\d.]+)", out)
    assert 0.5 < purity <= 1, out


def test_autoencoder_digits():
    out = run("autoencoder_digits", "--epochs", "2", "--code-size", "4")
    errors = numbers(r"reconstruction error ([\d.]+)", out)
    assert len(errors) == 2 and errors[1] < errors[0], out
    (ours,) = numbers(r"autoencoder error ([\d.]+)", out)
    (pca,) = numbers(r"PCA error ([\d.]+)", out)
    assert pca - 1e-3 <= ours < 1.5 * pca, out   # no linear code beats PCA


def test_reinforce_cartpole():
    out = run("reinforce_cartpole", "--iterations", "8", "--episodes", "8", "--max-steps", "100")
    steps = numbers(r"pole up for +([\d.]+) steps", out)
    assert len(steps) == 8 and max(steps[4:]) > 1.5 * steps[0], out
    assert "greedy policy:" in out


def test_static_vs_dynamic():
    out = run("static_vs_dynamic", "--epochs", "1", "--batch-size", "100")
    rows = {m[0]: (float(m[1]), float(m[2])) for m in
            re.findall(r"^(static|eager|jit) +[\d.]+s +([\d.]+) +([\d.]+)$", out, re.M)}
    assert set(rows) == {"static", "eager", "jit"}, out
    losses = [loss for _, loss in rows.values()]
    assert max(losses) - min(losses) < 1e-3, out   # the same model, the same numbers
