"""The main job: `symgraph demo` trains both ways, agrees, learns, and writes its pictures."""

import os
import subprocess
import sys

from symgraph.demo import run


def test_demo_learns_the_digits_both_ways(tmp_path, capsys):
    static, eager = run(epochs=3, out=str(tmp_path))
    for result in (static, eager):
        assert result.accuracy > 0.7  # chance is 0.1
        assert result.losses[-1] < result.losses[0]
    # The same model code, data order and initialization: both modes compute the same thing.
    assert abs(static.losses[-1] - eager.losses[-1]) < 1e-3
    assert static.nodes_before is not None and static.nodes_after <= static.nodes_before
    printed = capsys.readouterr().out
    for row in ("test accuracy", "compile time", "time per epoch", "fused kernels"):
        assert row in printed
    assert (tmp_path / "loss_curve.png").stat().st_size > 1000
    assert (tmp_path / "graph.dot").read_text().startswith("digraph")


def test_demo_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "symgraph", "demo", "--epochs", "1",
                          "--out", str(tmp_path), "--backend", "python"],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    assert "static graph" in out.stdout and "eager graph" in out.stdout
    help_text = subprocess.run([sys.executable, "-m", "symgraph", "demo", "--help"],
                               capture_output=True, text=True).stdout
    assert "--epochs" in help_text and "--backend" in help_text
