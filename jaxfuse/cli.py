"""The ``jaxfuse`` command line: ``fuse`` (one pair or two folders), ``evaluate`` and ``demo``.

Every error is one line on stderr, ``jaxfuse: error: <file>: <problem>``, no traceback (set
``JAXFUSE_DEBUG=1`` to see one for internal errors); a folder run's per-pair failures are lines
``jaxfuse: failed <pair>: <file>: <problem>`` on stderr, its summary on stdout. Exit codes and
limits: :data:`_LIMITS` (shown by ``--help``). Defaults and choices come from the library.
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
import warnings

import numpy as np

from jaxfuse.partition_cli import add_split_options, job_share, take_job_share, uses_distributed

__all__ = ["main", "build_parser", "EXIT_INPUT", "EXIT_USAGE", "EXIT_OUTPUT", "fuse_one_and_write"]

_PROG = "jaxfuse"
EXIT_INPUT, EXIT_USAGE, EXIT_OUTPUT, EXIT_INTERRUPTED = 1, 2, 3, 130

_LIMITS = """\
accepted inputs:
  PNG, TIFF, BMP, JPEG (single frame; multi-page TIFF and animated GIF/PNG are refused) and NumPy
  .npy (format 1.0/2.0, no pickles); uint8, uint16, or float in [0, 1]; at least 3x3. The MRI must
  be gray (RGB with three equal channels counts as gray); the functional image RGB or gray.
  Folder mode reads *.png *.tif *.tiff *.bmp *.jpg *.jpeg *.npy and pairs them by file name.
  Volumes: .nii/.nii.gz files or folders holding one DICOM series (see the volume options; -o is
  then a .nii/.nii.gz file); folder mode pairs NAME.nii(.gz) and NAME/ by NAME.

limits:
  each input at most --max-pixels pixels (default 4096x4096), checked from the file's header
  before decoding; one kernel batch at most 2**24 pixels (large images get smaller batches);
  --a and --b in [0, 1]; --resize N with 3 <= N and N*N <= --max-pixels.

registration (--register rigid, --transform-in, --transform-out; see the registration options):
  transform files are 4x4 plain text mapping MRI world to PET world (volumes: RAS mm; 2-D: pixel
  (row, column), third axis the identity, 3x3 also read); refused unless finite, last row 0 0 0 1,
  and a rotation (singular values 1 within 0.001, no reflection). A registration that did not
  converge, did not raise MI or ends below 0.01 nats fails its pair (exit 1) unless --accept-unconverged.

exit codes:
  0 done; 1 an input could not be used or its registration failed (folder mode: the other pairs
  are written); 2 usage error;
  3 an output could not be written or the run failed (disk full, output is an input, folder
  missing); 130 interrupted.
"""


class CliError(Exception):
    """A problem with the inputs, reported as one line (exit 1)."""


class UsageError(CliError):
    """A problem with the command line, reported as one line (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``jaxfuse: error: ...``), exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{_PROG}: error: {message} (see '{self.prog} --help')\n")


def _weight(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a finite number in [0, 1], got {value!r}")
    return number


def int_at_least(minimum: int, why: str = ""):
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}{why}, got {number}")
        return number

    parse.__name__ = f"integer >= {minimum}"
    return parse


_resize_side = int_at_least(3, " (the smallest image read, and the 3x3 convolution's window)")


def _method_list(value: str) -> list[str]:
    from jaxfuse.methods import METHODS

    names = list(METHODS) if value == "all" else [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown method(s) {', '.join(unknown) or value!r}; known: all, {', '.join(METHODS)}")
    return names


def _add_input_limits(parser: argparse.ArgumentParser) -> None:
    from jaxfuse.io.images import MAX_IMAGE_PIXELS

    parser.add_argument(
        "--resize", type=_resize_side, metavar="N",
        help="resize both images to NxN first (the paper uses 256; N >= 3); default: sizes must match",
    )  # fmt: skip
    parser.add_argument(
        "--max-pixels", type=int_at_least(9), default=MAX_IMAGE_PIXELS, metavar="P",
        help=f"refuse an input declaring more than P pixels, before decoding (default {MAX_IMAGE_PIXELS:,})",
    )  # fmt: skip


def _method_defaults() -> dict:
    """The vgg19 options' defaults, from the library: ``{"a": DEFAULT_A, ..., "colour_space": "hsi"}``."""
    from jaxfuse.core.fusion import COLOUR_SPACES, DEFAULT_A, DEFAULT_B, NORMALISATIONS, REDUCTIONS

    return dict(a=DEFAULT_A, b=DEFAULT_B, normalisation=NORMALISATIONS[0], reduction=REDUCTIONS[0], colour_space=COLOUR_SPACES[0])


def _add_method_options(parser: argparse.ArgumentParser) -> None:
    from jaxfuse.core.fusion import COLOUR_SPACES, NORMALISATIONS, REDUCTIONS
    from jaxfuse.methods import METHODS

    defaults = _method_defaults()
    group = parser.add_argument_group("method options (defaults: the paper's)")
    group.add_argument(
        "--method", choices=list(METHODS), default="vgg19",
        help="fusion method (default vgg19, the paper's); the options below apply to vgg19 only",
    )  # fmt: skip
    group.add_argument(
        "--adaptive", action="store_true",
        help="choose A and B per pair by maximising a no-reference criterion (--method vgg19_adaptive; "
        "jaxfuse.adaptive) instead of --a/--b",
    )  # fmt: skip
    group.add_argument("--a", type=_weight, default=defaults["a"], help=f"weight A of the MRI in Eq. 1, in [0, 1] (default {defaults['a']})")
    group.add_argument("--b", type=_weight, default=defaults["b"], help=f"weight B of the PET intensity in Eq. 1, in [0, 1] (default {defaults['b']})")
    group.add_argument(
        "--normalisation", choices=NORMALISATIONS, default=defaults["normalisation"],
        help="min-max scale each feature tensor as a whole (default) or per channel",
    )  # fmt: skip
    group.add_argument("--reduction", choices=REDUCTIONS, default=defaults["reduction"], help="per-pixel weight: channel mean (default) or sum")
    group.add_argument(
        "--colour-space", choices=COLOUR_SPACES, default=defaults["colour_space"],
        help="intensity model: Gonzalez-Woods HSI (default) or linear IHS (Tu et al. 2001)",
    )  # fmt: skip
    _add_input_limits(group)


def _progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar on stderr (auto: if a terminal)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    import jaxfuse

    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=_PROG, epilog=_LIMITS, formatter_class=formatter,
        description="Fuse MRI and PET/SPECT brain images with VGG19 conv1_1 features (Amini & Mostaar 2022); the "
        "inputs are taken as registered unless 'fuse --register rigid' registers them first.",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"{_PROG} {jaxfuse.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fuse = sub.add_parser(
        "fuse", help="fuse one pair, or every same-named pair of two folders", epilog=_LIMITS, formatter_class=formatter,
        description="Fuse one pair (MRI PET -o OUT.png) or two folders of same-named pairs "
        "(--mri-dir --pet-dir --out-dir). Output: 8-bit RGB PNG (folder mode: or --format npy|nifti), written "
        "atomically. With --register rigid the PET is first registered to the MRI (rigid, mutual information): "
        "jaxfuse fuse MRI PET -o OUT --register rigid --transform-out T.txt.",
    )  # fmt: skip
    fuse.add_argument("mri", nargs="?", type=pathlib.Path, help="MRI (gray) image file")
    fuse.add_argument("pet", nargs="?", type=pathlib.Path, help="PET/SPECT (RGB or gray) image file")
    fuse.add_argument("-o", "--out", type=pathlib.Path, help="output PNG for a single pair")
    folders = fuse.add_argument_group("folder mode")
    folders.add_argument("--mri-dir", type=pathlib.Path, help="folder of MRI images")
    folders.add_argument("--pet-dir", type=pathlib.Path, help="folder of functional images with the same file names")
    folders.add_argument("--out-dir", type=pathlib.Path, help="folder for the fused images (created if needed)")
    folders.add_argument("--batch-size", type=int_at_least(1), default=64, help="pairs per kernel call (default 64)")
    folders.add_argument(
        "--skip-existing", action="store_true",
        help="leave pairs whose output already exists (resumes a killed run: its complete outputs are kept)",
    )  # fmt: skip
    folders.add_argument("--workers", type=int_at_least(1), default=4, help="threads decoding and encoding files (default 4); with volumes, pairs fused at once (at most 2)")
    folders.add_argument(
        "--format", choices=("png", "npy", "nifti"), default="png",
        help="output files: png (default, 8-bit RGB), npy (uint8 [H, W, 3], no codec: fastest) or nifti "
        "(uncompressed RGB24 .nii, the image as one axial slice, 1 mm pixels)",
    )  # fmt: skip
    _progress_option(folders)
    add_split_options(fuse)
    fuse.add_argument(
        "--png-level", type=int, choices=range(10), default=1, metavar="0-9",
        help="PNG compression level on zlib's scale (default 1, the fastest: 1-3 ISA-L, 4-9 zlib, smaller files, slower)",
    )  # fmt: skip
    _add_method_options(fuse)
    from jaxfuse.registration.cli import add_registration_options  # --register: jaxfuse/registration/cli.py
    from jaxfuse.volume.cli import add_demo_options, add_volume_options  # volumes: jaxfuse/volume/cli.py

    add_volume_options(fuse)
    add_registration_options(fuse)

    evaluate = sub.add_parser(
        "evaluate", help="run fusion methods on folders of pairs and write a metrics report", epilog=_LIMITS,
        formatter_class=formatter,
        description="Fuse every same-named pair of two folders with each method, score the results with the "
        "paper's criteria (EN, MI, D, AG, OP) and the field's standard metrics, and write metrics.csv, "
        "summary.md (with the paper's Table 1 beside) and figure.png into the report folder.",
    )  # fmt: skip
    evaluate.add_argument("--mri-dir", type=pathlib.Path, required=True, help="folder of MRI images")
    evaluate.add_argument("--pet-dir", type=pathlib.Path, required=True, help="folder of functional images (same names)")
    evaluate.add_argument("--methods", type=_method_list, default="all", help="'all' (default) or a comma-separated list of method names")
    evaluate.add_argument("--report", type=pathlib.Path, required=True, help="report folder (created if needed)")
    evaluate.add_argument("--save-fused", action="store_true", help="also write each method's PNGs to REPORT/fused/METHOD/")
    evaluate.add_argument("--batch-size", type=int_at_least(1), default=32, help="pairs per kernel call (default 32)")
    _add_input_limits(evaluate)
    evaluate.add_argument("--figure-pairs", type=int_at_least(0), default=3, help="pairs shown in figure.png (default 3)")
    evaluate.add_argument("--title", default="jaxfuse evaluation", help="heading of summary.md")
    _progress_option(evaluate)

    demo = sub.add_parser(
        "demo", help="fuse the built-in sample (an MNI152 volume pair; --2d: the synthetic 2-D pair)",
        description="Fuse the volume sample shipped with jaxfuse (MNI152 T1 2 mm + a simulated FDG PET) and write "
        "fused.nii.gz and montage.png; with --2d, the synthetic 2-D pair: fused.png and side_by_side.png.",
    )  # fmt: skip
    demo.add_argument("--out-dir", type=pathlib.Path, default=pathlib.Path("jaxfuse-demo"), help="default ./jaxfuse-demo")
    add_demo_options(demo)
    return parser


def _progress_enabled(args: argparse.Namespace) -> bool:
    """``--progress``: on, off, or (auto) where stderr is a terminal."""
    return {"on": True, "off": False}.get(args.progress, sys.stderr.isatty())


def _resize(args: argparse.Namespace) -> tuple[int, int] | None:
    if args.resize is None:
        return None
    if args.resize * args.resize > args.max_pixels:
        raise UsageError(f"--resize {args.resize}: {args.resize}x{args.resize} is over --max-pixels {args.max_pixels:,}")
    return args.resize, args.resize


def _batch_fuser(args: argparse.Namespace):
    """The library's batch function for the chosen method; options differing from the defaults are passed."""
    from jaxfuse.methods import batch_fuser

    options = {key: getattr(args, key) for key, default in _method_defaults().items() if getattr(args, key) != default}
    try:
        return batch_fuser(args.method, **options)
    except ValueError as error:
        flags = ", ".join(f"--{key.replace('_', '-')}" for key in options)
        verb = "applies" if len(options) == 1 else "apply"
        raise UsageError(f"{flags} {verb} to --method vgg19 only, not {args.method}" if flags else str(error)) from None


def _failure_lines(failures) -> None:
    for name, reason in failures:
        print(f"{_PROG}: failed {name}: {reason}", file=sys.stderr)


def _run_fuse_single(args: argparse.Namespace) -> int:
    from jaxfuse.io.atomic import OutputError, clean_stale_temporaries, refuse_overwriting_inputs
    from jaxfuse.io.images import read_pair

    if args.out is None:
        raise UsageError("fuse MRI PET needs -o OUT.png")
    resize = _resize(args)
    fuse_batch = _batch_fuser(args)
    refuse_overwriting_inputs(args.out, (args.mri, args.pet), what="output path")
    if args.out.is_dir():
        raise OutputError(args.out, "is a directory; -o needs a file name")
    if not args.out.parent.is_dir():
        raise OutputError(args.out, f"folder {args.out.parent} does not exist")
    clean_stale_temporaries(args.out.parent)
    mri, pet = read_pair(args.mri, args.pet, resize=resize, max_pixels=args.max_pixels)
    from jaxfuse.registration.cli import align_image_pair

    return fuse_one_and_write(args, fuse_batch, mri, align_image_pair(args, mri, pet))


def fuse_one_and_write(args: argparse.Namespace, fuse_batch, mri: np.ndarray, pet: np.ndarray) -> int:
    """Fuses one read pair with ``fuse_batch`` and writes ``args.out`` (the 2-D and scalar-PET paths)."""
    from jaxfuse.io.images import write_png

    try:
        fused = np.asarray(fuse_batch(mri[None], pet[None]))[0]
    except ValueError as error:  # a size the method cannot take
        raise CliError(f"{args.pet}: {error}") from None
    write_png(args.out, fused, compress_level=args.png_level)
    print(f"wrote {args.out}")
    return 0


def _run_fuse_folders(args: argparse.Namespace) -> int:
    from jaxfuse.io.atomic import clean_stale_temporaries
    from jaxfuse.io.outputs import OUTPUT_FORMATS
    from jaxfuse.pipeline import BatchReport, Progress, fuse_folder_pairs, pair_folders
    from jaxfuse.registration.cli import image_batch_aligner

    if args.mri_dir is None or args.pet_dir is None or args.out_dir is None:
        raise UsageError("folder mode needs --mri-dir, --pet-dir and --out-dir")
    resize = _resize(args)
    share = job_share(args)  # joins a jax.distributed job: before the first JAX call
    fuse_batch = _batch_fuser(args)
    suffix = OUTPUT_FORMATS[args.format]
    jobs, pairing_failures, prefix = take_job_share(
        args, share, lambda: pair_folders(args.mri_dir, args.pet_dir, args.out_dir, suffix=suffix), name=lambda job: job.name,
        empty=f"{args.mri_dir}: no image files to fuse",
    )  # fmt: skip
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report = BatchReport(failures=list(pairing_failures), cleaned=len(clean_stale_temporaries(args.out_dir)))
    enabled = _progress_enabled(args)
    progress = Progress(len(jobs) + len(pairing_failures), enabled=enabled)
    progress.advance(len(pairing_failures))
    try:
        fuse_folder_pairs(
            jobs, fuse_batch, batch_size=args.batch_size, resize=resize, skip_existing=args.skip_existing,
            workers=args.workers, progress=progress, report=report, png_level=args.png_level, max_pixels=args.max_pixels,
            output_format=args.format, align=image_batch_aligner(args),
        )  # fmt: skip
    finally:
        progress.close()
    print(prefix + report.summary())
    _failure_lines(report.failures)
    return EXIT_INPUT if report.failures else 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from jaxfuse.evaluation.report import write_report
    from jaxfuse.evaluation.run import evaluate_folders
    from jaxfuse.io.atomic import clean_stale_temporaries, refuse_overwriting_inputs

    methods = args.methods if isinstance(args.methods, list) else _method_list(args.methods)
    resize = _resize(args)
    refuse_overwriting_inputs(args.report, (args.mri_dir, args.pet_dir), what="report folder")
    fused_dir = args.report / "fused" if args.save_fused else None
    for folder in [args.report] + ([fused_dir / m for m in methods] if fused_dir else []):
        clean_stale_temporaries(folder)
    enabled = _progress_enabled(args)
    evaluation = evaluate_folders(
        args.mri_dir, args.pet_dir, methods=methods, batch_size=args.batch_size, resize=resize, fused_dir=fused_dir,
        figure_pairs=args.figure_pairs, progress_enabled=enabled, max_pixels=args.max_pixels,
    )  # fmt: skip
    if not evaluation.names:
        _failure_lines(evaluation.failures)
        raise CliError(f"{args.mri_dir}: no pair could be read")
    write_report(evaluation, args.report, title=args.title)
    for run in evaluation.runs:
        print(f"{run.method:<12} {run.fused_pairs:>5} pairs  {run.pairs_per_second:9.1f} pairs/s  (compile {run.compile_seconds:.2f} s)")
    failures = evaluation.failures + [f for run in evaluation.runs for f in run.failures]
    _failure_lines(failures)
    print(f"wrote {args.report / 'metrics.csv'}, {args.report / 'summary.md'}, {args.report / 'figure.png'}")
    return EXIT_INPUT if failures else 0


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


def _resolve_adaptive(args: argparse.Namespace) -> None:
    """``fuse --adaptive`` is ``--method vgg19_adaptive``; it excludes another method and --a/--b."""
    if not getattr(args, "adaptive", False):
        return
    if args.method not in ("vgg19", "vgg19_adaptive"):
        raise UsageError(
            f"--adaptive chooses A and B of the vgg19 method; it cannot be combined with --method {args.method}"
        )
    defaults = _method_defaults()
    given = [f"--{key}" for key in ("a", "b") if getattr(args, key) != defaults[key]]
    if given:
        raise UsageError(f"--adaptive chooses A and B per pair; drop {' and '.join(given)}")
    args.method = "vgg19_adaptive"


def _dispatch(args: argparse.Namespace) -> int:
    from jaxfuse.registration.cli import check_registration_args
    from jaxfuse.volume import cli as volume_cli  # volumes, scalar functional images: jaxfuse/volume/cli.py

    if args.command == "demo":
        return _run_demo(args) if args.two_d else volume_cli.run_volume_demo(args)
    folder_images = args.command == "fuse" and (args.mri_dir or args.pet_dir or args.out_dir)
    if args.command == "fuse" and args.format != "png" and (volume_cli.handles(args) or not folder_images):
        raise UsageError(f"--format {args.format} applies to folder mode of 2-D images only")
    splits = args.command == "fuse" and (args.part is not None or uses_distributed(args))
    if splits and not (args.mri_dir or args.pet_dir or args.out_dir):
        raise UsageError("--part and --distributed apply to folder mode (--mri-dir, --pet-dir, --out-dir)")
    if args.command == "fuse":
        check_registration_args(args, folder_mode=bool(args.mri_dir or args.pet_dir or args.out_dir))
    _resolve_adaptive(args)  # before the volume path, which reads args.method too
    if volume_cli.handles(args):
        return volume_cli.run(args)
    if args.command == "evaluate":
        return _run_evaluate(args)
    if args.mri_dir or args.pet_dir or args.out_dir:
        if args.mri or args.pet or args.out:
            raise UsageError("give either MRI PET -o OUT or --mri-dir/--pet-dir/--out-dir, not both")
        return _run_fuse_folders(args)
    if args.mri is None or args.pet is None:
        raise UsageError("fuse needs MRI PET -o OUT.png, or --mri-dir, --pet-dir and --out-dir")
    return _run_fuse_single(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxfuse`` console script; returns the exit code (see the module docstring)."""
    from PIL import Image

    from jaxfuse._host_buffers import return_freed_blocks
    from jaxfuse.core.params import WeightsError
    from jaxfuse.io.atomic import describe_os_error
    from jaxfuse.io.images import ImageError

    args = build_parser().parse_args(argv)
    return_freed_blocks()  # the folder pipeline's memory stays flat (volume folders change it again)
    try:
        with warnings.catch_warnings():
            # The pixel budget (checked from the header) refuses these files anyway; Pillow's
            # warning would only add a second line to the one-line error.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return _dispatch(args)
    except UsageError as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (CliError, ImageError, WeightsError) as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as error:
        print(f"{_PROG}: error: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_OUTPUT
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the promise is one line, not a traceback
        if os.environ.get("JAXFUSE_DEBUG"):
            raise
        print(f"{_PROG}: internal error: {type(error).__name__}: {error} (JAXFUSE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_OUTPUT


if __name__ == "__main__":
    sys.exit(main())
