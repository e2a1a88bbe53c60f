"""Command line: `python -m simkernel <command>` (also installed as `simkernel`).

Commands: `demo`, `versions`, `shell`, `snapshot`, `matrix`, `conformance`, `bench`.  Exit statuses: 0 ok, 1 failure (a command that failed, a
snapshot that differs from the host with --compare), 2 usage (argparse's own status for bad arguments).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from simkernel.versions import DEFAULT_VERSION, VERSIONS
    p = argparse.ArgumentParser(
        prog="simkernel",
        description="A deterministic model of Linux procfs and /proc/<pid>/map_files, checked against the "
                    "real kernel.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    kernel_help = f"kernel release profile to model (default {DEFAULT_VERSION}; see `simkernel versions`)"

    demo = sub.add_parser("demo", help="boot a kernel, map libraries, show maps, ls -l map_files and who "
                                       "may look at them",
                          description="Boot a simulated kernel, start a process that maps real-looking "
                                      "libraries, print its /proc/<pid>/maps and `ls -l "
                                      "/proc/<pid>/map_files`, and the outcome of list/readlink/open for "
                                      "observers with different credentials.")
    demo.add_argument("--kernel", default=DEFAULT_VERSION, choices=list(VERSIONS),
                      help=f"kernel release profile to model (default {DEFAULT_VERSION})")

    sub.add_parser("versions", help="list the kernel release profiles", description="List the kernel "
                   "release profiles simkernel can model.")

    shell = sub.add_parser(
        "shell", help="a prompt over a simulated kernel (ls, cat, readlink, spawn, as, mmap, why, ...)",
        description="An interactive prompt over a simulated kernel: the commands a learner types (ls -l, "
                    "cat, readlink, stat, ps, spawn, as/su, id, mmap, munmap, mprotect, trace, why, dmesg, "
                    "fail-nth; `help` lists them), each run as the acting task through its system calls.  On a terminal it "
                    "prompts with history; otherwise it runs SCRIPT or the lines on stdin without a prompt.",
        epilog="example: printf 'spawn app --uid 1000\\nas $PID\\nls -l /proc/1/map_files\\n' | "
               "python -m simkernel shell")
    shell.add_argument("script", nargs="?", metavar="SCRIPT", help="file of shell commands ('-': stdin)")
    shell.add_argument("--kernel", default=DEFAULT_VERSION, choices=list(VERSIONS), help=kernel_help)
    shell.add_argument("--exit-on-error", action="store_true",
                       help="stop at the first failing command with exit status 1 (like sh -e)")
    shell.add_argument("--from-pid", type=_pid, metavar="PID",
                       help="first import host process PID (see `snapshot`); $PID is its simulated pid")

    snap = sub.add_parser(
        "snapshot", help="import a real process of this machine into the simulation and compare",
        description="Read /proc/PID/maps, status and map_files of a real process of this machine, rebuild it "
                    "in a simulated kernel (the mapped files' paths and sizes, the same credentials and "
                    "capabilities, every mapping at its address with its protection, flags and offset), and "
                    "print the simulated /proc/<pid>/maps and `ls -l map_files`.  Reading another process's "
                    "maps and map_files on the host needs root.",
        epilog="exit status: 0 ok; 1 the process cannot be read, or (--compare) the simulation differs "
               "from the host; 2 bad arguments")
    snap.add_argument("pid", type=_pid, metavar="PID", help="the host process to import")
    snap.add_argument("--compare", action="store_true",
                      help="compare maps lines (dev and inode numbers ignored) and map_files names and link "
                           "targets with the host's; exit 1 on any difference")
    snap.add_argument("--kernel", default=DEFAULT_VERSION, choices=list(VERSIONS), help=kernel_help)

    from simkernel.conformance import add_arguments as conformance_arguments
    conformance_arguments(sub.add_parser(
        "conformance", help="run the scenario library on the simulation and on this machine's kernel, print "
                            "the differences",
        description="Run every host-capable scenario of simkernel/scenarios on a simulated kernel and on this "
                    "machine's real kernel (forked processes; needs Linux and root) and print each observation "
                    "where they differ.",
        epilog="exit status: 0 all equal; 1 some observation differs; 2 bad arguments or no usable host"))

    from simkernel.matrix import add_arguments as matrix_arguments
    matrix_arguments(sub.add_parser(
        "matrix", help="the behaviour matrix: scenarios x kernel releases (and patched kernels)",
        description="Run the scenario library (simkernel/scenarios) on fresh kernels of every release profile "
                    "(or the ones named) and print what each answered; a cell that differs from the kernel on "
                    "its left is marked with '*'.",
        epilog="example: python -m simkernel matrix --scenarios names selftest-001 --kernels 4.15 4.16 4.17 "
               "--only-diff"))

    races = sub.add_parser(
        "races", help="explore the packaged map_files races on release profiles: Always/Sometimes/Never",
        description="Run every interleaving (up to each race's preemption bound) of the packaged races of "
                    "simkernel/races/map_files.py on fresh kernels of the releases named, and print the verdict table "
                    "(herd7 style: Sometimes = some schedule meets the condition) with the witness schedules.",
        epilog="exit status: 0 every verdict is the one expected from the release's switches; 1 some verdict "
               "differs; 2 bad arguments.  Example: python -m simkernel races --races readlink-vs-suid-exec "
               "--kernels 6.18 6.18.44 --witness")
    races.add_argument("--races", nargs="+", metavar="NAME", help="races to explore (default: all; see --list)")
    races.add_argument("--kernels", nargs="+", metavar="VERSION", default=["3.4", "4.4", "6.18", "6.18.44"],
                       help="release profiles (default: 3.4 4.4 6.18 6.18.44)")
    races.add_argument("--witness", action="store_true", help="print the witness schedule of each Sometimes")
    races.add_argument("--list", action="store_true", help="list the packaged races and exit")

    sub.add_parser("bench", add_help=False,   # its options are benchmarks/run.py's: main() hands them over
                   help="speed and memory at kernel scale against this machine's kernel (benchmarks/run.py; "
                        "bench --help lists its options)")
    return p


def _pid(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a pid: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a pid: {text!r}")
    return value


def _version() -> str:
    import simkernel
    return f"simkernel {simkernel.__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status (0 ok, 1 failure, 2 usage error)."""
    rest = list(sys.argv[1:] if argv is None else argv)
    if rest[:1] == ["bench"]:
        return _bench(rest[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from simkernel.demo import run_demo
        return run_demo(sys.stdout, args.kernel)
    if args.command == "versions":
        from simkernel.versions import DEFAULT_VERSION, VERSIONS
        for name, prof in VERSIONS.items():
            mark = " (default)" if name == DEFAULT_VERSION else ""
            print(f"{name:<10} {prof.description}{mark}")
        return 0
    if args.command == "shell":
        return _shell(args)
    if args.command == "conformance":
        from simkernel.conformance import cli_conformance
        return cli_conformance(args, sys.stdout, sys.stderr)
    if args.command == "matrix":
        from simkernel.matrix import cli_matrix
        return cli_matrix(args, sys.stdout, sys.stderr)
    if args.command == "races":
        return _races(args)
    if args.command == "snapshot":
        from simkernel.host.snapshot import run_snapshot
        return run_snapshot(args.pid, compare=args.compare, version=args.kernel, out=sys.stdout, err=sys.stderr)
    parser.print_help(sys.stderr)
    return 2


def _races(args: argparse.Namespace) -> int:
    """`races`: explore each (race, release) with progress on stderr, then the table and the mismatches."""
    from simkernel.races import RACES, verdict_table
    from simkernel.versions import resolve_version
    if args.list:
        for name, r in RACES.items():
            print(f"{name:<24} {r.condition_text}")
        return 0
    names = tuple(args.races or RACES)
    unknown = [n for n in names if n not in RACES]
    try:
        versions = tuple(resolve_version(v).name for v in args.kernels)
    except (KeyError, ValueError) as err:
        print(f"simkernel races: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    if unknown:
        print(f"simkernel races: unknown race {unknown[0]!r}; known: {', '.join(RACES)}", file=sys.stderr)
        return 2
    table = verdict_table(names, versions, progress=lambda i, total, n, v: print(
        f"[{i}/{total}] {n} on {v} ...", file=sys.stderr, flush=True))
    print(table)
    if args.witness:
        for (n, v), res in table.cells.items():
            if res.verdict == "Sometimes" and res.witness is not None:
                print(f"\n{n} on {v}: {RACES[n].condition_text} -- witness:\n{res.witness}")
    bad = table.mismatches()
    for n, v, got, want in bad:
        print(f"MISMATCH {n} on {v}: explored {got}, expected {want}")
    return 1 if bad else 0


def _bench(argv: list[str]) -> int:
    """`bench`: benchmarks/run.py of the source tree (the benchmarks are not installed with the package)."""
    import runpy
    from pathlib import Path
    run = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
    if not run.is_file():
        print(f"simkernel bench: {run} not found: the benchmarks live in the source tree, not in an installed "
              "package", file=sys.stderr)
        return 2
    return int(runpy.run_path(str(run))["main"](argv, prog="simkernel bench"))


def _shell(args: argparse.Namespace) -> int:
    from simkernel.shell import run_shell
    if args.from_pid is not None:
        from simkernel.host.snapshot import SnapshotError, snapshot
        try:
            snap = snapshot(args.from_pid, version=args.kernel)
        except SnapshotError as e:
            print(f"simkernel shell: {e}", file=sys.stderr)
            return 1
        kernel = snap.kernel
        banner = (f"host process {args.from_pid} ({snap.host.comm}) is simulated pid {snap.task.pid} ($PID)\n"
                  + "".join(f"  note: {n}\n" for n in snap.notes))
        return run_shell(args.script, version=args.kernel, exit_on_error=args.exit_on_error, kernel=kernel,
                         banner=banner, variables={"PID": str(snap.task.pid)})
    return run_shell(args.script, version=args.kernel, exit_on_error=args.exit_on_error)
