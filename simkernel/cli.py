"""Command line: `python -m simkernel <command>` (also installed as `simkernel`)."""

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
    return p


def _version() -> str:
    import simkernel
    return f"simkernel {simkernel.__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status (0 ok, 2 usage error)."""
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
    parser.print_help()
    return 2
