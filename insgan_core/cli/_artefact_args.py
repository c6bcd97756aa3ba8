"""Shared command-line options for instrument artefacts (used by ``insgan simulate`` and others)."""

from __future__ import annotations

import argparse

from ..errors import InsganInputError

__all__ = ["add_artefact_arguments", "artefacts_from_args"]


def add_artefact_arguments(
    parser: argparse.ArgumentParser, *, default_steps: str | None = None, include_seed: bool = True
) -> None:
    """Add ``--instrument --ei --chopper-package --chopper-frequency --artefacts --detectors
    --count-scale --seed --method`` to ``parser`` (in an "instrument artefacts" group).

    ``default_steps`` is the default of ``--artefacts`` (all steps when None); ``include_seed=False``
    leaves ``--seed`` to the caller's own options.
    """
    from ..instrument.pipeline import METHODS, STEPS
    from ..instrument.settings import known_instruments

    g = parser.add_argument_group("instrument artefacts")
    g.add_argument("--instrument", default="MERLIN", metavar="NAME",
                   help=f"spectrometer: {', '.join(known_instruments())} (default MERLIN)")
    g.add_argument("--ei", type=float, default=None, metavar="MEV", help="incident energy in meV (default 62)")
    g.add_argument("--chopper-package", default=None, metavar="PKG",
                   help="Fermi chopper package (MERLIN G/S, MAPS A/B/S, MARI A/B/C/G/R/S) or LET configuration; "
                        "default: the instrument's default package")
    g.add_argument("--chopper-frequency", type=float, default=250.0, metavar="HZ",
                   help="chopper frequency in Hz (LET: resolution disk), default 250")
    default_steps = ",".join(STEPS) if default_steps is None else default_steps
    g.add_argument("--artefacts", default=default_steps, metavar="STEPS",
                   help=f"comma-separated steps from {','.join(STEPS)}, or 'all' / 'none' (default: {default_steps})")
    g.add_argument("--detectors", default=None, metavar="FILE.nxspe",
                   help="detector table for coverage, masks and kinematics (default: built-in coverage)")
    g.add_argument("--count-scale", type=float, default=100.0, metavar="C",
                   help="counts per unit intensity for Poisson noise (> 0, default 100)")
    if include_seed:
        g.add_argument("--seed", type=int, default=0, help="random seed for noise and Monte-Carlo (default 0)")
    g.add_argument("--method", choices=METHODS, default="analytic",
                   help="resolution: analytic Gaussians (fast) or Monte-Carlo (slow, faithful)")


def artefacts_from_args(args: argparse.Namespace):
    """Build the artefact inputs from parsed options.

    Returns
    -------
    (InstrumentSettings, ArtefactConfig, DetectorData or None)
        ``args.seed`` and ``args.method`` are passed to :func:`insgan_core.instrument.apply_artefacts`
        by the caller.

    Raises
    ------
    InsganInputError
        Bad instrument settings, unknown steps, count scale <= 0, a detector file that is not a detector
        table or has no angles — before any work starts.
    """
    from ..data.detector import DetectorData
    from ..instrument.coverage import check_detector_table
    from ..instrument.pipeline import STEPS, ArtefactConfig, NoiseConfig
    from ..instrument.settings import InstrumentSettings

    settings = InstrumentSettings(
        instrument=args.instrument,
        ei_meV=62.0 if getattr(args, "ei", None) is None else args.ei,
        chopper_package=args.chopper_package,
        chopper_frequency_hz=args.chopper_frequency,
    )
    text = (args.artefacts or "").strip().lower()
    steps = STEPS if text == "all" else () if text in ("none", "") else tuple(text.split(","))
    try:
        noise = NoiseConfig(count_scale=args.count_scale)
    except InsganInputError as exc:
        raise InsganInputError(f"--count-scale: {exc}") from None
    config = ArtefactConfig(steps=steps, noise=noise)
    detectors = None
    if args.detectors:
        from ..data.io import load

        table = load(args.detectors)
        if not isinstance(table, DetectorData):
            raise InsganInputError(
                f"--detectors {args.detectors}: the file holds a reduced map, not a detector table; give an NXSPE "
                f"(or detector-space processed NeXus) file with one spectrum per detector"
            )
        check_detector_table(table, ei_meV=settings.ei_meV, source=f"--detectors {args.detectors}")
        detectors = table
    return settings, config, detectors
