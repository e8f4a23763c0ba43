"""The ``jaxfuse`` command line: ``fuse`` (one pair or two folders), ``evaluate`` and ``demo``.

Errors in the input are reported as one line ``jaxfuse: error: <file>: <problem>`` on stderr with
exit code 1 and no traceback (set ``JAXFUSE_DEBUG=1`` to see one); usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

import numpy as np

__all__ = ["main", "build_parser"]

_PROG = "jaxfuse"


class CliError(Exception):
    """A problem to report as one line and exit 1."""


def _return_large_buffers_to_the_os() -> None:
    """Keeps the folder pipeline's memory flat over any number of pairs (glibc only).

    glibc raises its mmap threshold each time a large block is freed, after which image-sized
    buffers come from the heap and fragment it: resident memory then creeps up with the number of
    pairs. Pinning the threshold (as ``MALLOC_MMAP_THRESHOLD_`` would) makes every buffer above it
    an mmap that is returned when freed. Process-wide, so only the command line does it.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
        libc.mallopt(-8, 2)  # M_ARENA_MAX: the decode/encode threads share two heaps, not eight per core
    except (OSError, AttributeError):
        pass


def _method_list(value: str) -> list[str]:
    from jaxfuse.methods import METHODS

    names = list(METHODS) if value == "all" else [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown method(s) {', '.join(unknown) or value!r}; known: all, {', '.join(METHODS)}")
    return names


def _add_method_options(parser: argparse.ArgumentParser) -> None:
    from jaxfuse.methods import METHODS

    group = parser.add_argument_group("method options (defaults: the paper's)")
    group.add_argument(
        "--method",
        choices=list(METHODS),
        default="vgg19",
        help="fusion method (default vgg19, the paper's); the options below apply to vgg19 only",
    )
    group.add_argument("--a", type=float, default=0.3, help="weight A of the MRI in Eq. 1 (default 0.3)")
    group.add_argument("--b", type=float, default=0.1, help="weight B of the PET intensity in Eq. 1 (default 0.1)")
    group.add_argument(
        "--normalisation",
        choices=("tensor", "channel"),
        default="tensor",
        help="min-max scale each feature tensor as a whole (default) or per channel",
    )
    group.add_argument(
        "--reduction", choices=("mean", "sum"), default="mean", help="per-pixel weight: channel mean (default) or sum"
    )
    group.add_argument(
        "--colour-space",
        choices=("hsi", "ihs_linear"),
        default="hsi",
        help="intensity model: Gonzalez-Woods HSI (default) or linear IHS (Tu et al. 2001)",
    )
    group.add_argument(
        "--resize", type=int, metavar="N", help="resize both images to NxN first (the paper uses 256); default: sizes must match"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Fuse registered MRI and PET/SPECT brain images with VGG19 conv1_1 features "
        "(Amini & Mostaar 2022).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fuse = sub.add_parser(
        "fuse",
        help="fuse one pair, or every same-named pair of two folders",
        description="Fuse one pair (MRI PET -o OUT.png) or two folders of same-named pairs "
        "(--mri-dir --pet-dir --out-dir). Output: 8-bit RGB PNG.",
    )
    fuse.add_argument("mri", nargs="?", type=pathlib.Path, help="MRI (gray) image file")
    fuse.add_argument("pet", nargs="?", type=pathlib.Path, help="PET/SPECT (RGB or gray) image file")
    fuse.add_argument("-o", "--out", type=pathlib.Path, help="output PNG for a single pair")
    folders = fuse.add_argument_group("folder mode")
    folders.add_argument("--mri-dir", type=pathlib.Path, help="folder of MRI images")
    folders.add_argument("--pet-dir", type=pathlib.Path, help="folder of functional images with the same file names")
    folders.add_argument("--out-dir", type=pathlib.Path, help="folder for the fused PNGs (created if needed)")
    folders.add_argument("--batch-size", type=int, default=64, help="pairs per kernel call (default 64)")
    folders.add_argument("--skip-existing", action="store_true", help="leave pairs whose output already exists")
    folders.add_argument("--workers", type=int, default=4, help="threads decoding and encoding files (default 4)")
    folders.add_argument(
        "--progress", choices=("auto", "on", "off"), default="auto", help="progress bar on stderr (auto: if a terminal)"
    )
    fuse.add_argument(
        "--png-level",
        type=int,
        choices=range(10),
        default=1,
        metavar="0-9",
        help="PNG compression level (default 1: about 2.5x faster to encode than 6, files about 7%% larger)",
    )
    _add_method_options(fuse)
    from jaxfuse.volume.cli import add_demo_options, add_volume_options  # volumes: jaxfuse/volume/cli.py

    add_volume_options(fuse)

    evaluate = sub.add_parser(
        "evaluate",
        help="run fusion methods on folders of pairs and write a metrics report",
        description="Fuse every same-named pair of two folders with each method, score the results with the "
        "paper's criteria (EN, MI, D, AG, OP) and the field's standard metrics, and write metrics.csv, "
        "summary.md (with the paper's Table 1 beside) and figure.png into the report folder.",
    )
    evaluate.add_argument("--mri-dir", type=pathlib.Path, required=True, help="folder of MRI images")
    evaluate.add_argument("--pet-dir", type=pathlib.Path, required=True, help="folder of functional images (same names)")
    evaluate.add_argument(
        "--methods", type=_method_list, default="all", help="'all' (default) or a comma-separated list of method names"
    )
    evaluate.add_argument("--report", type=pathlib.Path, required=True, help="report folder (created if needed)")
    evaluate.add_argument("--save-fused", action="store_true", help="also write each method's PNGs to REPORT/fused/METHOD/")
    evaluate.add_argument("--batch-size", type=int, default=32, help="pairs per kernel call (default 32)")
    evaluate.add_argument("--resize", type=int, metavar="N", help="resize every pair to NxN first")
    evaluate.add_argument("--figure-pairs", type=int, default=3, help="pairs shown in figure.png (default 3)")
    evaluate.add_argument("--title", default="jaxfuse evaluation", help="heading of summary.md")
    evaluate.add_argument(
        "--progress", choices=("auto", "on", "off"), default="auto", help="progress bar on stderr (auto: if a terminal)"
    )

    demo = sub.add_parser(
        "demo",
        help="fuse the built-in sample (an MNI152 volume pair; --2d: the synthetic 2-D pair)",
        description="Fuse the volume sample shipped with jaxfuse (MNI152 T1 2 mm + a simulated FDG PET) and write "
        "fused.nii.gz and montage.png; with --2d, the synthetic 2-D pair: fused.png and side_by_side.png.",
    )
    demo.add_argument("--out-dir", type=pathlib.Path, default=pathlib.Path("jaxfuse-demo"), help="default ./jaxfuse-demo")
    add_demo_options(demo)
    return parser


_VGG19_DEFAULTS = dict(a=0.3, b=0.1, normalisation="tensor", reduction="mean", colour_space="hsi")


def _fuser(args: argparse.Namespace):
    """``(mri, pet) -> uint8 fused`` for the chosen method and options."""
    import jax
    import jax.numpy as jnp

    from jaxfuse.core.fusion import fuse
    from jaxfuse.methods import fuse_with

    options = {key: getattr(args, key) for key in _VGG19_DEFAULTS}
    if args.method != "vgg19":
        changed = [f"--{k.replace('_', '-')}" for k, v in options.items() if v != _VGG19_DEFAULTS[k]]
        if changed:
            raise CliError(f"{', '.join(changed)} apply to --method vgg19 only, not {args.method}")
        return lambda mri, pet: fuse_with(mri, pet, method=args.method, output_dtype=jnp.uint8)
    if len(jax.local_devices()) > 1:  # data-parallel over every local device, same bytes
        from jaxfuse.parallel import fuse_sharded

        return lambda mri, pet: fuse_sharded(mri, pet, output_dtype=jnp.uint8, **options)
    return lambda mri, pet: fuse(mri, pet, output_dtype=jnp.uint8, **options)


def _same_file(a: pathlib.Path, b: pathlib.Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _run_fuse_single(args: argparse.Namespace) -> int:
    from jaxfuse.io.images import write_png
    from jaxfuse.pipeline import PairJob, load_pair

    if args.out is None:
        raise CliError("fuse MRI PET needs -o OUT.png")
    for source in (args.mri, args.pet):
        if _same_file(args.out, source) or args.out.resolve() == source.resolve():
            raise CliError(f"{args.out}: output path is an input file; inputs are never overwritten")
    if args.out.parent and not args.out.parent.is_dir():
        raise CliError(f"{args.out}: folder {args.out.parent} does not exist")
    resize = (args.resize, args.resize) if args.resize else None
    fuse_pair = _fuser(args)
    mri, pet = load_pair(PairJob(args.out.stem, args.mri, args.pet, args.out), resize)
    try:
        fused = np.asarray(fuse_pair(mri, pet))
    except ValueError as error:
        raise CliError(f"{args.pet}: {error}") from None
    write_png(args.out, fused, compress_level=args.png_level)
    print(f"wrote {args.out}")
    return 0


def _run_fuse_folders(args: argparse.Namespace) -> int:
    from jaxfuse.pipeline import BatchReport, Progress, fuse_folder_pairs, pair_folders

    if args.mri_dir is None or args.pet_dir is None or args.out_dir is None:
        raise CliError("folder mode needs --mri-dir, --pet-dir and --out-dir")
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be >= 1, got {args.batch_size}")
    jobs, pairing_failures = pair_folders(args.mri_dir, args.pet_dir, args.out_dir)
    if not jobs and not pairing_failures:
        raise CliError(f"{args.mri_dir}: no image files to fuse")
    fuse_batch = _fuser(args)
    args.out_dir.mkdir(parents=True, exist_ok=True)

    enabled = {"on": True, "off": False}.get(args.progress, sys.stderr.isatty())
    progress = Progress(len(jobs) + len(pairing_failures), enabled=enabled)
    progress.advance(len(pairing_failures))
    report = BatchReport(failures=list(pairing_failures))
    resize = (args.resize, args.resize) if args.resize else None
    fuse_folder_pairs(
        jobs,
        fuse_batch,
        batch_size=args.batch_size,
        resize=resize,
        skip_existing=args.skip_existing,
        workers=args.workers,
        progress=progress,
        report=report,
        png_level=args.png_level,
    )
    progress.close()
    print(report.summary())
    return 1 if report.failures else 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from jaxfuse.evaluation.run import evaluate_folders, write_report

    if args.batch_size < 1:
        raise CliError(f"--batch-size must be >= 1, got {args.batch_size}")
    methods = args.methods if isinstance(args.methods, list) else _method_list(args.methods)
    for folder in (args.mri_dir, args.pet_dir):
        if args.report.exists() and args.report.resolve() == folder.resolve():
            raise CliError(f"{args.report}: report folder is an input folder; inputs are never overwritten")
    enabled = {"on": True, "off": False}.get(args.progress, sys.stderr.isatty())
    fused_dir = args.report / "fused" if args.save_fused else None
    evaluation = evaluate_folders(
        args.mri_dir,
        args.pet_dir,
        methods=methods,
        batch_size=args.batch_size,
        resize=(args.resize, args.resize) if args.resize else None,
        fused_dir=fused_dir,
        figure_pairs=args.figure_pairs,
        progress_enabled=enabled,
    )
    if not evaluation.names:
        for name, reason in evaluation.failures:
            print(f"  failed {name}: {reason}", file=sys.stderr)
        raise CliError(f"{args.mri_dir}: no pair could be read")
    write_report(evaluation, args.report, title=args.title)
    for run in evaluation.runs:
        print(f"{run.method:<12} {run.fused_pairs:>5} pairs  {run.pairs_per_second:9.1f} pairs/s  (compile {run.compile_seconds:.2f} s)")
    failures = evaluation.failures + [f for run in evaluation.runs for f in run.failures]
    for name, reason in failures:
        print(f"  failed {name}: {reason}")
    print(f"wrote {args.report / 'metrics.csv'}, {args.report / 'summary.md'}, {args.report / 'figure.png'}")
    return 1 if failures else 0


def _run_demo(args: argparse.Namespace) -> int:
    import jax.numpy as jnp

    from jaxfuse.core.fusion import fuse
    from jaxfuse.evaluation.figures import side_by_side
    from jaxfuse.io.images import write_png
    from jaxfuse.sample import load_sample_pair

    mri, pet = load_sample_pair()
    fused = np.asarray(fuse(mri, pet, output_dtype=jnp.uint8))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_png(args.out_dir / "fused.png", fused)
    write_png(args.out_dir / "side_by_side.png", side_by_side([("MRI", mri), ("PET", pet), ("fused (VGG19)", fused)]))
    print(f"wrote {args.out_dir / 'fused.png'} and {args.out_dir / 'side_by_side.png'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxfuse`` console script; returns the exit code."""
    from jaxfuse.core.params import WeightsError
    from jaxfuse.io.images import ImageError

    args = build_parser().parse_args(argv)
    _return_large_buffers_to_the_os()
    try:
        from jaxfuse.volume import cli as volume_cli

        if args.command == "demo":
            return _run_demo(args) if args.two_d else volume_cli.run_volume_demo(args)
        if volume_cli.handles(args):
            return volume_cli.run(args)
        if args.command == "evaluate":
            return _run_evaluate(args)
        if args.mri_dir or args.pet_dir or args.out_dir:
            if args.mri or args.pet or args.out:
                raise CliError("give either MRI PET -o OUT or --mri-dir/--pet-dir/--out-dir, not both")
            return _run_fuse_folders(args)
        if args.mri is None or args.pet is None:
            raise CliError("fuse needs MRI PET -o OUT.png, or --mri-dir, --pet-dir and --out-dir")
        return _run_fuse_single(args)
    except (CliError, ImageError, WeightsError) as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        where = error.filename if error.filename else ""
        print(f"{_PROG}: error: {where}{': ' if where else ''}{error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the promise is one line, not a traceback
        if os.environ.get("JAXFUSE_DEBUG"):
            raise
        print(f"{_PROG}: internal error: {type(error).__name__}: {error} (JAXFUSE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
