"""Property-based fuzzing (hypothesis, derandomized, few examples) of the file readers through the CLI.

Mutated copies of the shared NXSPE files go through ``insgan convert``; mutated processed-NeXus maps
through ``insgan plot`` and ``insgan apply``; the hostile command lines of tests/fuzz/command_lines.py
run once each. Every run: no traceback, no hang, no "internal error"; a corrupt-by-construction input
is refused with exit 2 and a one-line message naming the file; an accepted input writes an output that
insgan reads back with finite bins. The long campaign is tests/fuzz/campaign.py.
"""

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz.mutations import (  # noqa: E402
    MAP_BYTES, MAP_SEMANTIC, NXSPE_BYTES, NXSPE_SEMANTIC, mutate_map, mutate_nxspe, run_cli,
)

from insgan_core.data.io import load  # noqa: E402

# small files keep each example fast; square (5 x 5) files cannot show a transposition
SMALL_NXSPE = ["nxspe_version1_0.nxspe", "inst_maps_ei400_600hz.nxspe", "MAR29858_180meV_powder.nxspe",
               "gen_sqw_96dets.nxspe"]
FUZZ = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _quiet_logging():
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


def check_outcome(outcome, *, path: Path, corrupt: bool, output: Path) -> None:
    assert not outcome.timed_out, f"{path.name}: hang"
    assert not outcome.traceback, f"{path.name}: exception escaped: {outcome.exception}"
    assert not outcome.internal, outcome.stderr
    if outcome.code == 0:
        assert not corrupt, f"{path.name}: corrupt input accepted (exit 0)"
        if output.suffix in (".nxs", ".npz"):
            assert np.isfinite(load(output).signal).any(), "exit 0 with an output without finite bins"
        else:
            assert output.stat().st_size > 0
    else:
        assert outcome.code == 2, outcome.stderr
        assert str(path) in outcome.stderr, f"message does not name the file: {outcome.stderr}"
        assert len(outcome.stderr.strip().splitlines()) == 1, outcome.stderr


@FUZZ
@given(name=st.sampled_from(SMALL_NXSPE), kind=st.sampled_from(NXSPE_SEMANTIC + NXSPE_BYTES),
       seed=st.integers(0, 2**31 - 1))
def test_mutated_nxspe_through_convert(experimental_dir, tmp_path, name, kind, seed):
    if kind == "transpose" and name.startswith("inst_"):
        kind = "signal_inf"
    src = tmp_path / f"in_{seed}.nxspe"
    corrupt = mutate_nxspe(experimental_dir / name, src, kind, seed)
    out = tmp_path / f"out_{seed}.nxs"
    outcome = run_cli(["-q", "convert", str(src), "--q-bins", "0,0.2,12", "-o", str(out)], timeout_s=60)
    check_outcome(outcome, path=src, corrupt=corrupt, output=out)


@pytest.fixture(scope="module")
def map_and_model(tmp_path_factory, bi2fe4o9_5k):
    d = tmp_path_factory.mktemp("fuzz_map")
    base, model = d / "map.nxs", d / "model.safetensors"
    logging.disable(logging.CRITICAL)
    assert run_cli(["-q", "convert", str(bi2fe4o9_5k), "--q-bins", "0.2,0.4,5.8", "--e-bins", "-10,4,54",
                    "-o", str(base)]).code == 0
    o = run_cli(["-q", "train", "--mode", "paired", "--source", str(base), "--target", str(base), "--steps", "1",
                 "--width", "4", "--batch-size", "1", "-o", str(model), "--checkpoint-dir", str(d / "ck")], timeout_s=300)
    assert o.code == 0, o.stderr
    return base, model


@settings(max_examples=15, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(MAP_SEMANTIC + MAP_BYTES), seed=st.integers(0, 2**31 - 1))
def test_mutated_maps_through_plot_and_apply(map_and_model, tmp_path, kind, seed):
    base, model = map_and_model
    src = tmp_path / f"map_{seed}.nxs"
    corrupt = mutate_map(base, src, kind, seed)
    fig = tmp_path / f"fig_{seed}.png"
    check_outcome(run_cli(["-q", "plot", str(src), "-o", str(fig)], timeout_s=60), path=src, corrupt=corrupt, output=fig)
    out = tmp_path / f"out_{seed}.nxs"
    check_outcome(run_cli(["-q", "apply", str(model), str(src), "-o", str(out)], timeout_s=60),
                  path=src, corrupt=corrupt, output=out)


def test_every_semantic_nxspe_mutation_is_refused_naming_the_field(experimental_dir, tmp_path):
    """Each kind of physical corruption once, on a real file: exit 2, the file and the HDF5 field named."""
    src = experimental_dir / "MAR29858_180meV_powder.nxspe"
    for k, kind in enumerate(NXSPE_SEMANTIC):
        path = tmp_path / f"{kind}.nxspe"
        assert mutate_nxspe(src, path, kind, seed=k)
        outcome = run_cli(["-q", "convert", str(path), "--q-bins", "0,0.2,12", "-o", str(tmp_path / "o.nxs")])
        check_outcome(outcome, path=path, corrupt=True, output=tmp_path / "o.nxs")
        if kind not in ("definition_bad", "delete_field"):
            assert "'/" in outcome.stderr, f"{kind}: no HDF5 field named: {outcome.stderr}"
    assert not (tmp_path / "o.nxs").exists()


def test_hostile_command_lines(experimental_dir, tmp_path):
    """About 140 hostile (and a few valid) command lines: refusals are one-line, named, never internal."""
    from fuzz.command_lines import command_lines

    lines = command_lines(tmp_path, experimental_dir)
    assert len(lines) >= 100
    for argv, expect, output in lines:
        outcome = run_cli(argv, timeout_s=60)
        label = " ".join(argv)[:200]
        assert not outcome.timed_out and not outcome.traceback, f"{label}: {outcome.exception}"
        assert not outcome.internal, f"{label}: {outcome.stderr}"
        if expect == "refuse":
            assert outcome.code in (1, 2), f"{label}: accepted"
            assert outcome.stderr.strip(), f"{label}: refused without a message"
        elif expect == "accept":
            assert outcome.code == 0, f"{label}: {outcome.stderr}"
            if output is not None and output.suffix in (".nxs", ".npz"):
                assert np.isfinite(load(output).signal).any()
    assert not (tmp_path / "pwned.txt").exists(), "a YAML python tag was executed"


@settings(max_examples=15, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(("truncate", "flip_bytes", "zero_block", "flip_header", "inf", "negative_error")),
       seed=st.integers(0, 2**31 - 1))
def test_mutated_npz_maps_through_plot(map_and_model, tmp_path, kind, seed):
    from fuzz.mutations import _byte_mutation

    from insgan_core.data.io import save

    base, _ = map_and_model
    m = load(base)
    src = tmp_path / f"map_{seed}.npz"
    corrupt = kind in ("inf", "negative_error")
    if corrupt:
        rng = np.random.default_rng(seed)
        signal, error = m.signal.copy(), m.error.copy()
        i = tuple(rng.integers(s) for s in signal.shape)
        if kind == "inf":
            signal[i] = np.inf if seed % 2 else -np.inf
            np.savez(src, signal=signal, error=error, x_edges=m.x_axis.edges, e_edges=m.e_axis.edges,
                     header=np.load(_saved(save, m, tmp_path))["header"])
        else:
            error[i] = -1.0
            np.savez(src, signal=signal, error=error, x_edges=m.x_axis.edges, e_edges=m.e_axis.edges,
                     header=np.load(_saved(save, m, tmp_path))["header"])
    else:
        save(m, src)
        _byte_mutation(src, kind, np.random.default_rng(seed))
    fig = tmp_path / f"fig_{seed}.png"
    check_outcome(run_cli(["-q", "plot", str(src), "-o", str(fig)], timeout_s=60), path=src, corrupt=corrupt, output=fig)


def _saved(save, m, tmp_path):
    path = tmp_path / "good.npz"
    save(m, path)
    return path
