"""Property tests of map_files name handling: any string looked up under /proc/<pid>/map_files gives a valid
entry or exactly the errno the path walk decides (ENOENT for a name that is no exact file-VMA range,
ENAMETOOLONG for a path of PATH_MAX bytes, ENOTDIR past an entry) -- never another exception.

Linux: fs/proc/base.c:proc_map_files_lookup(), dname_to_vma_addr(); fs/namei.c:getname_flags()
"""

from __future__ import annotations

import errno as E

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simkernel.fs.proc.map_files import dname_to_vma_addr
from tests.fs.proc.prockit import BASE, PAGE, mf, rng, setup

_S = setup()          # one kernel for every example: lookups do not change the address space
_VALID = {(BASE, BASE + 2 * PAGE): "/srv/mf/ro", (BASE + 4 * PAGE, BASE + 5 * PAGE): "/srv/mf/rw"}
_PREFIX = mf(_S.t) + "/"
PATH_MAX = 4096

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

hexish = st.text(alphabet="0123456789abcdefABCDEFxX+- \t\n", max_size=40)
near_valid = st.sampled_from([rng(*r) for r in _VALID] + [rng(BASE + 8 * PAGE, BASE + 9 * PAGE)]).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, len(n)), st.text(max_size=3)).map(
        lambda t: t[0][:t[1]] + t[2] + t[0][t[1]:]))
anything = st.text(max_size=300)
huge = st.integers(200, 5000).map(lambda n: "a" * n)
names = st.one_of(hexish, near_valid, anything, huge,
                  st.sampled_from([rng(*r) for r in _VALID]),
                  st.sampled_from([rng(*r).upper() for r in _VALID]))


def _readlink(name: str) -> object:
    try:
        return _S.root.sys.readlink(_PREFIX + name)
    except OSError as err:
        return E.errorcode[err.errno]


def _expected_simple(name: str) -> object:
    """What the kernel gives for a name without "/" or NUL."""
    if len((_PREFIX + name).encode("utf-8", "surrogateescape")) >= PATH_MAX:
        return "ENAMETOOLONG"
    if name in ("", "."):
        return "EINVAL"            # readlink of the directory itself: not a symlink
    if name == "..":
        return "EINVAL"
    addr = dname_to_vma_addr(name)
    if addr in _VALID:
        return _VALID[addr]
    return "ENOENT"


@SETTINGS
@given(names)
def test_lookup_any_name_without_slash_or_nul(name: str) -> None:
    """Without "/" and NUL the result is exactly: the target, ENOENT, ENAMETOOLONG (or EINVAL for "."/"")."""
    assume("/" not in name and "\0" not in name)
    assert _readlink(name) == _expected_simple(name)


@SETTINGS
@given(names, st.text(max_size=20))
def test_lookup_name_with_nul_is_its_prefix(name: str, tail: str) -> None:
    """A C string ends at the NUL: the result is the result of the part before it."""
    assume("/" not in name and "\0" not in name)
    assert _readlink(name + "\0" + tail) == _readlink(name)


@SETTINGS
@given(names, st.text(alphabet="/.abc0", min_size=1, max_size=12))
def test_lookup_name_with_slash_is_a_walk_error_or_entry(name: str, rest: str) -> None:
    """A "/" after a name: ENOENT for no entry, ENOTDIR past an entry (a file), ENAMETOOLONG -- or, when
    the rest only climbs back out (".."), some other path of procfs; never an unexpected exception."""
    assume("/" not in name and "\0" not in name and name not in ("", ".", ".."))
    got = _readlink(name + "/" + rest)
    allowed = {"ENOENT", "ENOTDIR", "ENAMETOOLONG", "EINVAL", "EACCES"}
    assert isinstance(got, str) and (got in allowed or got.startswith("/"))
    first = _expected_simple(name)
    if first == "ENOENT":
        assert got == "ENOENT"
    elif first.startswith("/") and ".." not in rest:
        assert got == "ENOTDIR"


@SETTINGS
@given(names)
def test_lstat_and_readlink_agree(name: str) -> None:
    """lstat succeeds exactly when readlink does, with the same errno otherwise."""
    assume("/" not in name and "\0" not in name and name not in ("", ".", ".."))
    r = _readlink(name)
    try:
        _S.root.sys.lstat(_PREFIX + name)
        lst: object = "ok"
    except OSError as err:
        lst = E.errorcode[err.errno]
    assert (lst == "ok") == r.startswith("/") and (lst == "ok" or lst == r)


@SETTINGS
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.booleans())
def test_dname_to_vma_addr_roundtrips_canonical(start: int, end: int, upper: bool) -> None:
    """"%lx-%lx" of any pair parses back to it, in either case."""
    name = f"{start:x}-{end:x}"
    assert dname_to_vma_addr(name.upper() if upper else name) == (start, end)


@SETTINGS
@given(st.integers(1, 2**60), st.integers(0, 2**60), st.integers(1, 3))
def test_dname_to_vma_addr_rejects_leading_zeros(start: int, end: int, zeros: int) -> None:
    """Leading zeros on either number are rejected (v4.17+)."""
    assert dname_to_vma_addr("0" * zeros + f"{start:x}-{end:x}") is None
    assert dname_to_vma_addr(f"{start:x}-" + "0" * zeros + f"{end + 1:x}") is None
