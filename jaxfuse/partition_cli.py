"""The command line's side of splitting a folder job over many machines (:mod:`jaxfuse.partition`).

``--part K/N`` (independent array-job tasks) and ``--distributed`` (one ``jax.distributed`` job),
shared by both folder modes (2-D images in :mod:`jaxfuse.cli`, volumes in
:mod:`jaxfuse.volume.cli`): the options, joining the job, and taking this run's share of the
listed pairs after checking that every process listed the same names. docs/cluster.md shows them
in SLURM scripts.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_split_options", "uses_distributed", "job_share", "take_job_share"]


def _part(value: str):
    from jaxfuse.partition import parse_part

    try:
        return parse_part(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_split_options(parser: argparse.ArgumentParser) -> None:
    """Adds the options that split a folder job over many machines (images and volumes alike)."""
    from jaxfuse.cli import int_at_least

    group = parser.add_argument_group(
        "many machines (folder mode; docs/cluster.md)",
        "The sorted pair names (unpaired names included) are dealt out in turn: name number r\n"
        "(from 0) goes to worker r mod N. The split depends only on the names in the folders, not\n"
        "on listing order or on which outputs exist: workers never write the same file, each\n"
        "pairing failure is reported by the worker owning the name, and a --skip-existing rerun\n"
        "of a part redoes what that part left. The summary starts with the share, e.g.\n"
        "'part 2/4: 135 of 538 pairs;'. With --part and --distributed, the part is split over\n"
        "the processes.",
    )
    group.add_argument(
        "--part", type=_part, metavar="K/N",
        help="fuse only part K of N (1-based: 1 <= K <= N), for independent array-job tasks; SLURM: "
        "--array=1-N and --part $SLURM_ARRAY_TASK_ID/N",
    )  # fmt: skip
    group.add_argument(
        "--distributed", action="store_true",
        help="join a jax.distributed job (jax.distributed.initialize() finds SLURM, Open MPI or Kubernetes "
        "in the environment) and fuse this process's share (jax.process_index() of jax.process_count()) on "
        "its local devices",
    )  # fmt: skip
    implies = "implies --distributed; default: from the environment"
    group.add_argument("--coordinator", metavar="HOST:PORT", help=f"address of process 0 ({implies})")
    group.add_argument("--num-processes", type=int_at_least(1), metavar="P", help=f"processes in the job ({implies})")
    group.add_argument("--process-id", type=int_at_least(0), metavar="I", help=f"this process, 0..P-1 ({implies})")


def uses_distributed(args: argparse.Namespace) -> bool:
    """True when the command line asks to join a ``jax.distributed`` job (``--distributed`` or any
    of ``--coordinator``, ``--num-processes``, ``--process-id``)."""
    explicit = (getattr(args, name, None) is not None for name in ("coordinator", "num_processes", "process_id"))
    return bool(getattr(args, "distributed", False)) or any(explicit)


def _join_distributed(args: argparse.Namespace) -> None:
    """``jax.distributed.initialize`` with the explicit options (None: found from the environment)."""
    import jax

    from jaxfuse.cli import UsageError
    from jaxfuse.io.atomic import OutputError

    if args.num_processes is not None and args.process_id is not None and args.process_id >= args.num_processes:
        raise UsageError(f"--process-id {args.process_id} must be below --num-processes {args.num_processes}")
    try:
        jax.distributed.initialize(
            coordinator_address=args.coordinator, num_processes=args.num_processes, process_id=args.process_id
        )
    except ValueError as error:  # nothing found in the environment and not given
        raise UsageError(
            f"--distributed: no SLURM, Open MPI or Kubernetes job found in the environment ({error}); "
            "give --coordinator, --num-processes and --process-id"
        ) from None
    except RuntimeError as error:
        raise OutputError(args.coordinator or "jax.distributed", f"cannot join the distributed job ({error})") from None


def job_share(args: argparse.Namespace):
    """This run's :class:`jaxfuse.partition.Share` of a split folder job, or None for the whole job.

    With ``--distributed`` (or its explicit options) this joins the ``jax.distributed`` job first,
    so it must run before anything starts a JAX backend.
    """
    share = getattr(args, "part", None)
    if uses_distributed(args):
        from jaxfuse.partition import process_share

        _join_distributed(args)
        share = process_share() if share is None else share.within(process_share())
    return share


def _quiet_c_stdout() -> None:
    """Points file descriptor 1 at /dev/null, and Python's ``sys.stdout`` at a copy of it, for the
    rest of the process: the CPU collectives (Gloo) print a line to C's stdout when they connect,
    at a time of their own, which would land among the summary lines. Python's output is unchanged."""
    sys.stdout.flush()
    real = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    stream = sys.stdout
    sys.stdout = open(  # the process's stdout from now on; closed at exit
        real, "w", encoding=stream.encoding, errors=stream.errors, buffering=1 if stream.line_buffering else -1
    )


def take_job_share(args: argparse.Namespace, share, list_pairs, *, name, empty: str):
    """Lists the pairs with ``list_pairs() -> (items, failures)`` and keeps ``share``'s part of them.

    In a multi-process job every process first checks that all of them listed the same names.

    Returns:
        ``(items, failures, prefix)``: the owned pairs and pairing failures, and the summary's
        prefix (``"part 2/4: 135 of 538 pairs; "``; empty for the whole job).

    Raises:
        CliError: the job has no pairs at all (message ``empty``), or the processes disagree.
    """
    import jax

    from jaxfuse.cli import CliError
    from jaxfuse.partition import check_same_names, take_share

    collective = uses_distributed(args) and jax.process_count() > 1
    if collective:
        _quiet_c_stdout()
    try:
        items, failures = list_pairs()
    except Exception:
        if collective:  # the other processes learn that this one failed, instead of waiting for it
            try:
                check_same_names(None)
            except RuntimeError:
                pass
        raise
    if collective:
        try:
            check_same_names([name(item) for item in items] + [n for n, _ in failures])
        except RuntimeError as error:
            raise CliError(f"{args.mri_dir}: {error}") from None
    if not items and not failures:
        raise CliError(empty)
    if share is None:
        return items, failures, ""
    items, failures, total = take_share(items, failures, share, name=name)
    return items, failures, f"{share.label}: {len(items) + len(failures)} of {total} pairs; "
