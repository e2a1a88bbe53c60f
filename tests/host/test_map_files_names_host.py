"""map_files name parsing on the host and the simulation: every variant of reference §5.6 and §11.

One target maps a two-page file read-only at SCENARIO_BASE and one page of /dev/zero privately right after a
gap; a root observer then lstat()s and readlink()s every variant of the names.  Names holding a NUL cannot be
passed through a path on the host (the C string ends there) and are tested on the simulation only
(tests/fs/proc/test_map_files_props.py).
"""

from __future__ import annotations

from typing import Any

from simkernel.uapi import MAP_PRIVATE, O_DIRECTORY, O_RDONLY, PROT_NONE, PROT_READ
from tests.host.scenarios_procfs import BASE, FIXED, PAGE, Obs, make_file, mf, run_compare, spawn

A, B = BASE, BASE + 2 * PAGE          # the file mapping
Z0, Z1 = BASE + 4 * PAGE, BASE + 5 * PAGE   # /dev/zero, private (selftest-style mapping, PROT_NONE)


def _variants() -> list[tuple[str, str]]:
    a, b = f"{A:x}", f"{B:x}"
    big = "1" + "0" * 16
    return [
        ("canonical", f"{a}-{b}"),
        ("upper", f"{A:X}-{B:X}"),
        ("mixed-case", f"{a[:4].upper()}{a[4:]}-{b[:3]}{b[3:].upper()}"),
        ("upper-start-only", f"{A:X}-{b}"),
        ("leading-zero-start", f"0{a}-{b}"),
        ("two-leading-zeros", f"00{a}-{b}"),
        ("leading-zero-end", f"{a}-0{b}"),
        ("0x-start", f"0x{a}-{b}"),
        ("0X-start", f"0X{a}-{b}"),
        ("0x-end", f"{a}-0x{b}"),
        ("space-before", f" {a}-{b}"),
        ("space-before-dash", f"{a} -{b}"),
        ("space-after-dash", f"{a}- {b}"),
        ("space-after", f"{a}-{b} "),
        ("tab-after", f"{a}-{b}\t"),
        ("newline-after", f"{a}-{b}\n"),
        ("plus-start", f"+{a}-{b}"),
        ("plus-end", f"{a}-+{b}"),
        ("double-dash", f"{a}--{b}"),
        ("extra-dash-end", f"{a}-{b}-"),
        ("trailing-junk", f"{a}-{b}z"),
        ("trailing-hex-junk-g", f"{a}-{b}g0"),
        ("trailing-dash", f"{a}-"),
        ("leading-dash", f"-{b}"),
        ("missing-dash", f"{a}{b}"),
        ("comma", f"{a},{b}"),
        ("underscore", f"{a}_{b}"),
        ("overflow-start-17", f"{big}{a}"[-17:] + f"-{b}"),
        ("overflow-start-wraps", f"{big}{a}-{b}"),
        ("overflow-end-17", f"{a}-{big}{b}"),
        ("overflow-both", f"{big}-{big}"),
        ("sixteen-f", f"{'f' * 16}-{'f' * 16}"),
        ("sub-range", f"{a}-{A + PAGE:x}"),
        ("super-range", f"{a}-{B + PAGE:x}"),
        ("wrong-end", f"{a}-{B + 0x123:x}"),
        ("wrong-start", f"{A + PAGE:x}-{b}"),
        ("start-gt-end", f"{b}-{a}"),
        ("empty-range", f"{a}-{a}"),
        ("zero-zero", "0-0"),
        ("zero-page", "0-1000"),
        ("zero-leading-zero-end", "0-01000"),
        ("double-zero", "00-1000"),
        ("just-dash", "-"),
        ("dot-name", f".{a}-{b}"),
        ("unicode", f"{a}-{b}\u00e9"),
        ("unicode-digit", f"{a}-\u0661{b}"),
        ("over-255", f"{a}-{b}" + "0" * 280),
        ("300-bytes-of-a", "a" * 300),
        ("255-bytes", "1" * 255),
        ("256-bytes", "1" * 256),
        ("4000-bytes", "f" * 4000),
        ("zero-name-devzero", f"{Z0:x}-{Z1:x}"),
        ("zero-name-devzero-upper", f"{Z0:X}-{Z1:X}"),
        ("slash-inside", f"{a}/-{b}"),
        ("trailing-slash", f"{a}-{b}/"),
        ("trailing-slash-dot", f"{a}-{b}/."),
        ("dotdot-after", f"{a}-{b}/.."),
        ("dot", "."),
        ("dotdot", ".."),
        ("empty (the directory with a slash)", ""),
        ("dot-slash-name", f"./{a}-{b}"),
        ("double-slash", f"/{a}-{b}"),
    ]


def scenario_names(k: Any, d: str) -> list[tuple[str, Any]]:
    """Map a file and /dev/zero; root lstat()s and readlink()s every name variant."""
    o = Obs()
    make_file(k, f"{d}/data", 4 * PAGE)
    t = spawn(k, "target", uid=1000)
    fd = t.sys.open(f"{d}/data", O_RDONLY)
    t.sys.mmap(A, B - A, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    zfd = t.sys.open("/dev/zero", O_RDONLY)
    t.sys.mmap(Z0, Z1 - Z0, PROT_NONE, MAP_PRIVATE | FIXED, zfd, 0)
    root = spawn(k, "observer")
    for label, name in _variants():
        o.do(f"readlink {label}", root.sys.readlink, mf(t, name))
        o.do(f"lstat-mode {label}", lambda p: root.sys.lstat(p).st_mode, mf(t, name))
    # the same names through a directory fd (openat-relative walk, no /proc/<pid> lookup)
    dfd = root.sys.open(mf(t), O_RDONLY | O_DIRECTORY)
    for label, name in _variants()[:12]:
        o.do(f"readlinkat {label}", root.sys.readlink, name, dir_fd=dfd)
    root.sys.close(dfd)
    # an unprivileged, unrelated observer: the name check comes before the permission check (2026 order)
    other = spawn(k, "other", uid=1001)
    for label, name in _variants()[:12]:
        o.do(f"other readlink {label}", other.sys.readlink, mf(t, name))
    return o.items


def scenario_selftest_as(k: Any, d: str, uid: int) -> list[tuple[str, Any]]:
    """The selftest proc-self-map-files-001 sequence made by the mapping task itself (as `uid`)."""
    o = Obs()
    t = spawn(k, "selftest", uid=uid)
    fd = t.sys.open("/dev/zero", O_RDONLY)
    a = t.sys.mmap(A, PAGE, PROT_NONE, MAP_PRIVATE | FIXED, fd, 0)
    b = a + PAGE
    fmt_pass = [f"/proc/self/map_files/{a:x}-{b:x}"]
    fmt_fail = [f"/proc/self/map_files/ {a:x}-{b:x}", f"/proc/self/map_files/{a:x} -{b:x}",
                f"/proc/self/map_files/{a:x}- {b:x}", f"/proc/self/map_files/{a:x}-{b:x} ",
                f"/proc/self/map_files/0{a:x}-{b:x}", f"/proc/self/map_files/{a:x}-0{b:x}",
                f"/proc/self/map_files/10000000000000000{a:x}-{b:x}",
                f"/proc/self/map_files/{a:x}-10000000000000000{b:x}"]
    for p in fmt_pass + fmt_fail:
        o.do(f"self readlink {p[21:]!r}", t.sys.readlink, p, bufsiz=64)
    return o.items


def test_map_files_name_variants(host: Any, compared: Any) -> None:
    """Every name variant gives the host's result (ENOENT unless canonical, any case) on the simulation."""
    run_compare(host, compared, scenario_names)


def test_map_files_selftest_sequence_root(host: Any, compared: Any) -> None:
    """The proc-self-map-files-001 readlink sequence, as root."""
    run_compare(host, compared, scenario_selftest_as, 0)


def test_map_files_selftest_sequence_nobody(host: Any, compared: Any) -> None:
    """The proc-self-map-files-001 readlink sequence, as uid 65534 (reading one's own map_files)."""
    run_compare(host, compared, scenario_selftest_as, 65534)


def scenario_address_zero(k: Any, d: str) -> list[tuple[str, Any]]:
    """Root maps page 0 of /dev/zero (CAP_SYS_RAWIO passes vm.mmap_min_addr); names around "0-1000"."""
    o = Obs()
    t = spawn(k, "zero")
    fd = t.sys.open("/dev/zero", O_RDONLY)
    o.do("mmap at 0", t.sys.mmap, 0, PAGE, PROT_NONE, MAP_PRIVATE | 0x10, fd, 0)
    for name in ("0-1000", "-1000", "00-1000", "0-01000", "0-1000 ", "0-", "-", "0-0", "000-1000", "0-1"):
        o.do(f"readlink {name!r}", t.sys.readlink, f"/proc/self/map_files/{name}")
    o.add("listing has 0-1000", "0-1000" in t.sys.listdir("/proc/self/map_files"))
    nobody = spawn(k, "nobody", uid=65534)
    nfd = nobody.sys.open("/dev/zero", O_RDONLY)
    o.do("nobody mmap at 0", nobody.sys.mmap, 0, PAGE, PROT_NONE, MAP_PRIVATE | 0x10, nfd, 0)
    return o.items


def test_map_files_names_at_address_zero(host: Any, compared: Any) -> None:
    """A mapping at address 0: "0-1000" and "-1000" resolve, leading zeros do not; nobody cannot map 0."""
    run_compare(host, compared, scenario_address_zero)
