"""The behaviour matrix: scenarios x kernels -> what each kernel answered, with the changes marked.

Rows are the observations of the scenarios (simkernel/scenarios), columns the kernels: release profiles,
patched kernels ("6.18.44+readdir-by-address", simkernel/patch_examples.py), kernels built with Yama
("3.3+yama") and, optionally, this machine's real kernel ("host", for the scenarios that may run there).
A cell that differs from the cell on its left is marked: reading a row left to right shows the releases
where the behaviour changed.

    >>> from simkernel.matrix import run_matrix
    >>> m = run_matrix(["selftest-001"], ["3.14", "4.16", "4.17"])
    >>> print(m.to_text(width=8), end="")
    scenario / observation 3.14     4.16     4.17
    selftest-001: proc-self-map-files-001 as root: passes from v4.17; sscanf releases resolve " a-b", v4.16 "0a-b".
      exit status          1        1        0*
      first failing check  A        B*       -*
        A = fail ' %x-%x': resolved
        B = fail '0%x-%x': resolved
    (2 of 2 rows; * = differs from the kernel on its left; 3 kernels)

`python -m simkernel matrix [--scenarios ...] [--kernels ...] [--only-diff] [--layout runs]` prints it; in a
notebook the Matrix renders as an HTML table (`_repr_html_`).
"""

from __future__ import annotations

import gc
import time
from html import escape
from typing import Any, Callable, Iterable, Sequence

from attrs import define, field, frozen

__all__ = ["KernelSpec", "Row", "Matrix", "run_matrix", "kernel_spec", "all_kernels", "format_value",
           "HOST_COLUMN", "add_arguments", "cli_matrix"]

HOST_COLUMN = "host"
NOT_RUN = "n/a"


@frozen
class KernelSpec:
    """A column: how to boot the kernel it stands for.

    Attributes:
        name: the column title ("6.18.44+readdir-by-address").
        version: the release profile name.
        yama: boot with Yama built in.
        patches: (target, replacement) pairs applied after boot (simkernel/patch.py).
        host: this machine's real kernel instead of a simulation (version, yama, patches unused).
    """

    name: str
    version: str = ""
    yama: bool = False
    patches: tuple[tuple[Any, Callable[..., Any]], ...] = ()
    host: bool = False

    def boot(self) -> Any:
        """A fresh kernel for this column (a HostKernel context manager for the host column)."""
        if self.host:
            from simkernel.host import HostKernel
            return HostKernel()
        from simkernel.machine import Kernel
        k = Kernel(version=self.version, yama=self.yama)
        for target, fn in self.patches:
            k.patch(target, fn)
        return k


def kernel_spec(text: str | KernelSpec) -> KernelSpec:
    """Parse a column name: "4.3", "3.3+yama", "6.18.44+readdir-by-address", "host".

    The suffixes after "+" are "yama" or an experiment of simkernel.patch_examples.EXAMPLES.

    Raises:
        ValueError: an unknown release or experiment.
    """
    if isinstance(text, KernelSpec):
        return text
    if text == HOST_COLUMN:
        return KernelSpec(HOST_COLUMN, host=True)
    from simkernel.patch_examples import EXAMPLES
    from simkernel.versions import resolve_version
    version, *extras = text.split("+")
    resolve_version(version)
    yama = False
    patches = []
    for extra in extras:
        if extra == "yama":
            yama = True
        elif extra in EXAMPLES:
            patches.append(EXAMPLES[extra])
        else:
            raise ValueError(f"unknown kernel variant {extra!r} in {text!r}; known: yama, {', '.join(EXAMPLES)}")
    return KernelSpec(text, version, yama, tuple(patches))


def all_kernels() -> list[KernelSpec]:
    """Every release profile, oldest first."""
    from simkernel.versions import VERSIONS
    return [KernelSpec(name, name) for name in VERSIONS]


@frozen
class Row:
    """One observation across the kernels: `values[i]` is what kernel i answered."""

    scenario: str
    label: str
    values: tuple[Any, ...]


@define
class Matrix:
    """The result of run_matrix(): scenario summaries, kernel columns, rows, and how long it took."""

    kernels: list[KernelSpec]
    scenarios: list[tuple[str, str]]                 # (name, summary)
    rows: list[Row] = field(factory=list)
    seconds: float = 0.0

    @property
    def columns(self) -> list[str]:
        return [k.name for k in self.kernels]

    def changed(self, row: Row) -> list[bool]:
        """Which cells differ from the cell on their left (the first never does; n/a cells never do)."""
        out = [False]
        for prev, cur in zip(row.values, row.values[1:]):
            out.append(cur != prev and NOT_RUN not in (cur, prev))
        return out

    def differing_rows(self) -> list[Row]:
        """The rows where not every kernel answered the same."""
        return [r for r in self.rows if len({_key(v) for v in r.values if v != NOT_RUN}) > 1]

    def cell(self, scenario: str, label: str, kernel: str) -> Any:
        """The value one kernel gave for one observation.

        Raises:
            KeyError: no such row or column.
        """
        col = self.columns.index(kernel)
        for r in self.rows:
            if r.scenario == scenario and r.label == label:
                return r.values[col]
        raise KeyError((scenario, label))

    # -- text -------------------------------------------------------------------------------------------
    def to_text(self, only_diff: bool = False, width: int = 10, layout: str = "table") -> str:
        """The matrix for a terminal.

        layout "table": one column per kernel, a changed cell marked with "*"; a value longer than the cell
        is shown as a letter, explained under its row.  layout "runs": per row, the runs of kernels that
        answered the same ("3.3..3.8 !EACCES | 3.9..4.2 !EPERM | 4.3..6.18.44 1").
        """
        rows = self.differing_rows() if only_diff else self.rows
        keep = {id(r) for r in rows}
        if layout == "runs":
            return self._runs_text(keep)
        label_w = max([len("scenario / observation")] + [len(r.label) + 2 for r in rows])
        names = self.columns
        widths = [max(width, len(n) + 1) for n in names]
        out = [("scenario / observation".ljust(label_w) + " " + " ".join(n.ljust(w) for n, w in zip(names, widths)))
               .rstrip()]
        for name, summary in self.scenarios:
            mine = [r for r in self.rows if r.scenario == name and id(r) in keep]
            if not mine:
                continue
            out.append(f"{name}: {summary}")
            for r in mine:
                legend: dict[str, str] = {}
                cells = []
                for v, ch, w in zip(r.values, self.changed(r), widths):
                    text = format_value(v)
                    if len(text) > w - 1:
                        text = legend.setdefault(text, chr(ord("A") + len(legend)))
                    cells.append((text + ("*" if ch else "")).ljust(w))
                out.append(("  " + r.label).ljust(label_w) + " " + " ".join(cells).rstrip())
                for long, letter in legend.items():
                    out.append(f"    {letter} = {long}")
        out.append(f"({len(rows)} of {len(self.rows)} rows; * = differs from the kernel on its left; "
                   f"{len(self.kernels)} kernels)")
        return "\n".join(out) + "\n"

    def _runs_text(self, keep: set[int]) -> str:
        out = []
        for name, summary in self.scenarios:
            mine = [r for r in self.rows if r.scenario == name and id(r) in keep]
            if not mine:
                continue
            out.append(f"{name}: {summary}")
            for r in mine:
                runs: list[tuple[str, str, str]] = []
                for kname, v in zip(self.columns, r.values):
                    text = format_value(v)
                    if runs and runs[-1][2] == text:
                        runs[-1] = (runs[-1][0], kname, text)
                    else:
                        runs.append((kname, kname, text))
                parts = [f"{a}..{b} {t}" if a != b else f"{a} {t}" for a, b, t in runs]
                out.append(f"  {r.label}: " + " | ".join(parts))
        return "\n".join(out) + "\n"

    def __str__(self) -> str:
        return self.to_text()

    # -- HTML -------------------------------------------------------------------------------------------
    def to_html(self, only_diff: bool = False) -> str:
        """An HTML table: changed cells highlighted, scenario summaries as section rows."""
        rows = self.differing_rows() if only_diff else self.rows
        keep = {id(r) for r in rows}
        font = "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px"
        th = "text-align:left;padding:2px 6px;border-bottom:1px solid #999;position:sticky;top:0;background:#fff"
        td = "padding:1px 6px;white-space:nowrap;border-left:1px solid #eee"
        head = "".join(f'<th style="{th}">{escape(n)}</th>' for n in self.columns)
        body = []
        for name, summary in self.scenarios:
            mine = [r for r in self.rows if r.scenario == name and id(r) in keep]
            if not mine:
                continue
            body.append(f'<tr><td colspan="{len(self.columns) + 1}" style="padding:6px 6px 1px;font-weight:bold">'
                        f'{escape(name)} <span style="font-weight:normal;color:#555">{escape(summary)}</span>'
                        "</td></tr>")
            for r in mine:
                cells = []
                for v, ch in zip(r.values, self.changed(r)):
                    text = format_value(v)
                    short = text if len(text) <= 24 else text[:21] + "..."
                    style = td + (";background:#ffd591" if ch else "") + (";color:#c0392b" if text.startswith("!")
                                                                          else "")
                    cells.append(f'<td style="{style}" title="{escape(text)}">{escape(short)}</td>')
                body.append(f'<tr><td style="{td};padding-left:14px">{escape(r.label)}</td>{"".join(cells)}</tr>')
        caption = (f"{len(rows)} of {len(self.rows)} observations, {len(self.kernels)} kernels, "
                   f"{self.seconds:.2f} s; highlighted: differs from the kernel on its left")
        return (f'<table style="border-collapse:collapse;{font}"><caption style="text-align:left">{escape(caption)}'
                f'</caption><tr><th style="{th}">scenario / observation</th>{head}</tr>{"".join(body)}</table>')

    def _repr_html_(self) -> str:
        return self.to_html()


def format_value(v: Any) -> str:
    """A cell's text: errno names stay ("!EACCES"), lists are joined, everything else is str()."""
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(format_value(x) for x in v) + ")"
    return str(v)


def _key(v: Any) -> str:
    return format_value(v)


def _observe(spec: KernelSpec, sc: Any) -> list[tuple[str, Any]] | str:
    """The observations of one scenario on a fresh kernel of `spec`, or a one-word reason it did not run."""
    if spec.host:
        from simkernel.host import available
        if not sc.host or not available()[0]:
            return NOT_RUN
        with spec.boot() as k:
            return list(sc.run(k))
    gc.disable()      # a kernel is a large cyclic graph built in one go: collecting it half-built is waste
    try:
        return list(sc.run(spec.boot()))
    except Exception as err:       # a scenario that breaks on one kernel must not hide the others
        return f"!ERROR {type(err).__name__}: {err}"
    finally:
        gc.enable()


def run_matrix(scenarios: Iterable[str] | None = None, kernels: Sequence[str | KernelSpec] | None = None,
               host: bool = False) -> Matrix:
    """Run every scenario on a fresh kernel of every column.

    Args:
        scenarios: scenario names (default: the whole library, in order).
        kernels: column names or KernelSpecs (default: every release profile, oldest first).
        host: add a "host" column (this machine's kernel; "n/a" where a scenario cannot run there).

    Raises:
        KeyError: an unknown scenario.  ValueError: an unknown kernel.
    """
    from simkernel.scenarios import SCENARIOS, get_scenario
    names = list(scenarios) if scenarios is not None else list(SCENARIOS)
    scs = [get_scenario(n) for n in names]
    specs = [kernel_spec(k) for k in kernels] if kernels is not None else all_kernels()
    if host:
        specs.append(kernel_spec(HOST_COLUMN))
    t0 = time.perf_counter()
    m = Matrix(kernels=specs, scenarios=[(sc.name, sc.summary) for sc in scs])
    for sc in scs:
        results = [_observe(spec, sc) for spec in specs]
        labels: list[str] = []
        for res in results:
            if isinstance(res, list):
                labels.extend(lb for lb, _ in res if lb not in labels)
        if not labels:
            labels = ["(run)"]
        for label in labels:
            values = []
            for res in results:
                if isinstance(res, str):
                    values.append(res)
                else:
                    values.append(next((v for lb, v in res if lb == label), NOT_RUN))
            m.rows.append(Row(sc.name, label, tuple(values)))
    m.seconds = time.perf_counter() - t0
    return m


# -- command line (wired into simkernel/cli.py) ---------------------------------------------------------------

def add_arguments(p: Any) -> None:
    """The options of `python -m simkernel matrix`."""
    p.add_argument("--scenarios", nargs="+", metavar="NAME", help="scenarios to run (default: the whole library)")
    p.add_argument("--kernels", nargs="+", metavar="KERNEL",
                   help="columns: release profiles (3.3 ... 6.18.44), V+yama, V+EXPERIMENT "
                        "(readdir-by-address, lookup-permission-first), host (default: every profile)")
    p.add_argument("--only-diff", action="store_true", help="only the rows where some kernel answers differently")
    p.add_argument("--layout", choices=("table", "runs"), default="table",
                   help="table: a column per kernel; runs: per row, the runs of kernels that agree")
    p.add_argument("--width", type=int, default=9, metavar="N", help="cell width of the table (default 9)")
    p.add_argument("--host", action="store_true", help="add this machine's real kernel as a last column")
    p.add_argument("--list", action="store_true", help="list the scenarios and kernel variants, then exit")


def cli_matrix(args: Any, out: Any, err: Any) -> int:
    """Run `python -m simkernel matrix`; returns the exit status (0 ok, 2 unknown scenario or kernel)."""
    from simkernel.patch_examples import EXAMPLES
    from simkernel.scenarios import SCENARIOS
    if args.list:
        for sc in SCENARIOS.values():
            out.write(f"{sc.name:36} {'' if sc.host else '(simulation only) '}{sc.summary}\n")
        out.write("kernels: " + " ".join(k.name for k in all_kernels()) + "\n")
        out.write("variants: V+yama " + " ".join(f"V+{n}" for n in EXAMPLES) + " host\n")
        return 0
    try:
        m = run_matrix(args.scenarios, args.kernels, host=args.host)
    except (KeyError, ValueError) as e:
        err.write(f"simkernel matrix: {e.args[0] if e.args else e}\n")
        return 2
    out.write(m.to_text(only_diff=args.only_diff, width=args.width, layout=args.layout))
    return 0
