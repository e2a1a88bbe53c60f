"""simkernel/patch.py: per-kernel patches of kernel functions and operation-table slots."""

from __future__ import annotations

import doctest
from typing import Any

import pytest

import simkernel
import simkernel.patch as P
from simkernel.errors import KernelError
from simkernel.patch_examples import EXAMPLES, lookup_permission_first, readdir_by_address
from simkernel.scenarios import SCENARIOS
from simkernel.uapi import CAP_DAC_READ_SEARCH, O_DIRECTORY, O_RDONLY
from simkernel.uapi import errno as E
from tests.fs.proc.prockit import mf, setup
from tests.helpers import raises_errno


def _deny(orig: Any, current: Any, *args: Any) -> Any:
    raise KernelError(E.EACCES, "experiment")


def test_patch_affects_only_its_kernel() -> None:
    """A patch of proc_map_files_readdir in one kernel leaves a second kernel, booted before or after, alone."""
    a, b = setup(), setup()
    a.k.patch("fs/proc/base.c:proc_map_files_readdir", _deny)
    c = setup()
    with raises_errno(E.EACCES):
        a.root.sys.listdir(mf(a.t))
    assert len(b.root.sys.listdir(mf(b.t))) == 2 and len(c.root.sys.listdir(mf(c.t))) == 2


def test_patch_decorator_receives_the_original() -> None:
    """`@k.patch(fn)` applies the patch and returns the function; the replacement can call `orig`."""
    from simkernel.fs.proc.map_files import proc_map_files_readdir
    s = setup()
    calls: list[str] = []

    @s.k.patch(proc_map_files_readdir)
    def spy(orig: Any, current: Any, file: Any, ctx: Any) -> None:
        calls.append(file.f_path.dentry.d_name)
        orig(current, file, ctx)
    assert callable(spy) and spy.__name__ == "spy"
    assert sorted(s.root.sys.listdir(mf(s.t))) == sorted([s.ro, s.rw])
    assert calls and set(calls) == {"map_files"}


def test_patches_stack_and_unpatch_pops_the_newest() -> None:
    """A second patch of the same target receives the first as `orig`; unpatch removes the newest first."""
    s = setup()
    order: list[str] = []

    def layer(tag: str) -> Any:
        def fn(orig: Any, *args: Any) -> Any:
            order.append(tag)
            return orig(*args)
        return fn
    s.k.patch("dname_to_vma_addr", layer("first"))
    s.k.patch("dname_to_vma_addr", layer("second"))
    s.root.sys.readlink(mf(s.t, s.ro))
    assert order[:2] == ["second", "first"]
    s.k.unpatch("dname_to_vma_addr")
    order.clear()
    s.root.sys.readlink(mf(s.t, s.ro))
    assert set(order) == {"first"}
    s.k.unpatch()
    assert s.k.patches == [] and "patches" not in s.k.hooks and "syscall" not in s.k.hooks


def test_patched_context_manager_is_temporary() -> None:
    """`with k.patched(...)` undoes the patch at the end of the block, even on an exception."""
    s = setup()
    with pytest.raises(RuntimeError):
        with s.k.patched("mm_access", _deny):
            with raises_errno(E.EACCES):
                s.root.sys.listdir(mf(s.t))
            raise RuntimeError("leave the block")
    assert len(s.root.sys.listdir(mf(s.t))) == 2


def test_table_slot_patch_changes_only_that_table() -> None:
    """Patching PROC_MAP_FILES_INODE_OPERATIONS.setattr leaves proc_setattr of other /proc inodes alone."""
    s = setup()
    s.k.patch("PROC_MAP_FILES_INODE_OPERATIONS.setattr", _deny)
    with raises_errno(E.EACCES):
        s.root.sys.chown(mf(s.t), 0, 0)
    s.root.sys.chown(f"/proc/{s.t.pid}/fd", 0, 0)          # the fd directory: the stock proc_setattr


def test_slot_patch_then_function_patch_both_apply() -> None:
    """A table slot made patchable first still reaches a later patch of the function it holds."""
    s = setup()
    seen: list[str] = []
    s.k.patch("PROC_MAP_FILES_OPERATIONS.iterate_shared", lambda orig, *a: (seen.append("slot"), orig(*a))[1])
    s.k.patch("proc_map_files_readdir", lambda orig, *a: (seen.append("function"), orig(*a))[1])
    s.root.sys.listdir(mf(s.t))
    assert seen[:2] == ["slot", "function"]


def test_patch_of_a_function_without_kernel_arguments_uses_the_running_syscall() -> None:
    """name_to_int(name) has no kernel in its arguments: the kernel of the running system call decides."""
    s, other = setup(), setup()
    s.k.patch("name_to_int", lambda orig, name: -1)             # no pid resolves any more
    with raises_errno(E.ENOENT):
        s.root.sys.listdir(mf(s.t))
    assert len(other.root.sys.listdir(mf(other.t))) == 2


def test_patch_errors() -> None:
    """Unknown, ambiguous and malformed targets raise PatchError; unpatching what is not patched too."""
    k = simkernel.Kernel()
    for bad in ("no_such_function", "PROC_MAP_FILES_OPERATIONS.nope", "simkernel.fs.proc.map_files:nothing",
                "PROC_MAP_FILES_OPERATIONS", 42, lambda: None):
        with pytest.raises(P.PatchError):
            k.patch(bad, _deny)
    with pytest.raises(P.PatchError):
        k.unpatch("proc_map_files_lookup")


def test_every_declared_patch_point_resolves() -> None:
    """PATCH_POINTS (the map_files call sites) all name one function or table slot."""
    for target in P.PATCH_POINTS:
        m, name, slot = P.resolve(target)
        assert name in m.__dict__, target


def test_patch_point_looks_like_the_original() -> None:
    """A patch point keeps the original's name, code and annotations (what the tracer reads)."""
    from simkernel.fs.proc import map_files as M
    k = simkernel.Kernel()
    p = k.patch("proc_map_files_lookup", lambda orig, *a: orig(*a))
    point = M.proc_map_files_lookup
    assert isinstance(point, P.PatchPoint) and point.__name__ == "proc_map_files_lookup"
    assert point.__code__ is point.__wrapped__.__code__ and "return" in point.__annotations__
    assert repr(point) == "<patch point simkernel.fs.proc.map_files:proc_map_files_lookup>"
    assert "proc_map_files_lookup" in repr(p) and "patched=1" in repr(k)
    p.remove()
    p.remove()                       # removing twice is harmless
    assert "patched" not in repr(k)


def test_patched_kernel_keeps_tracing() -> None:
    """A trace of a patched kernel records the original the replacement calls, under the same parent."""
    s = setup()
    s.k.patch("proc_map_files_lookup", lambda orig, *a: orig(*a))
    with s.k.trace() as tr:
        s.root.sys.lstat(mf(s.t, s.ro))
    assert any("proc_map_files_lookup(" in line for line in tr.lines())


def test_example_readdir_by_address_neither_skips_nor_repeats() -> None:
    """dir-fd-across-changes: the stock readdir skips one entry and repeats another; by address, none."""
    sc = SCENARIOS["dir-fd-across-changes"]
    stock = [o.value for o in sc.run(simkernel.Kernel())]
    k = simkernel.Kernel()
    k.patch(*EXAMPLES["readdir-by-address"])
    patched = [o.value for o in sc.run(k)]
    assert stock == [["+0p"], ["+4p"], ["+12p"], ["+12p"], [], []]
    assert patched == [["+0p"], ["+4p"], ["+8p"], ["+12p"], [], []]


def test_example_readdir_by_address_dots_and_permission() -> None:
    """The experiment still emits the dots first, lists a zombie as empty and refuses a stranger."""
    s = setup()
    s.k.patch("proc_map_files_readdir", readdir_by_address)
    w = s.k.spawn("other", uid=1001, gid=1001, caps=[CAP_DAC_READ_SEARCH])
    dfd = w.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    assert [n for n, *_ in w.sys.getdents(dfd, 4096)] == [".", ".."]
    with raises_errno(E.EACCES):
        w.sys.getdents(dfd, 4096)
    small = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    assert [n for n, *_ in s.root.sys.getdents(small, 24)] == ["."]
    assert [n for n, *_ in s.root.sys.getdents(small, 4096)] == ["..", s.ro, s.rw]
    p = s.k.spawn("parent")
    z = s.k.spawn("z", parent=p)
    z.sys.exit(0)
    assert s.root.sys.listdir(mf(z)) == []


def test_example_readdir_by_address_reaped_task() -> None:
    """...and ENOENT once the task is reaped."""
    s = setup()
    s.k.patch("proc_map_files_readdir", readdir_by_address)
    p = s.k.spawn("parent")
    z = s.k.spawn("z", parent=p)
    dfd = s.root.sys.open(mf(z), O_RDONLY | O_DIRECTORY)
    z.sys.exit(0)
    p.sys.waitpid(z.pid, 0)
    with raises_errno(E.ENOENT):
        s.root.sys.getdents(dfd, 4096)


def test_example_lookup_permission_first_restores_eacces_for_malformed_names() -> None:
    """6.18.44 + lookup-permission-first answers a malformed name like 6.18 (EACCES), a zombie's like 6.18.44."""
    def run(patched: bool) -> Any:
        s = setup()
        if patched:
            s.k.patch("fs/proc/base.c:proc_map_files_lookup", lookup_permission_first)
        w = s.k.spawn("other", uid=1001, gid=1001, caps=[CAP_DAC_READ_SEARCH])
        try:
            w.sys.lstat(mf(s.t, "0" + s.ro))
        except OSError as err:
            return err.errno
    assert (run(False), run(True)) == (E.ENOENT, E.EACCES)


def test_patch_module_doctests() -> None:
    """The examples in the docstrings of patch.py and patch_examples.py run."""
    import simkernel.patch_examples
    for mod in (P, simkernel.patch_examples):
        assert doctest.testmod(mod, optionflags=doctest.ELLIPSIS).failed == 0


def test_kernel_of_arguments() -> None:
    """A patch point finds the kernel from a task, an inode, a dentry, a file, an mm or a vma argument."""
    s = setup()
    vma = s.t.mm.mm_rb[0]
    for obj in (s.k, s.t, s.t.mm, vma, vma.vm_file, vma.vm_file.f_inode, vma.vm_file.f_path.dentry):
        assert P._kernel_of_args((obj,)) is s.k, obj
    assert P._kernel_of_args((1, "x")) is None


def test_ambiguous_names_and_hints() -> None:
    """A kernel name defined in two modules needs the C file as a hint or the module; tables resolve to the
    module that defines them."""
    with pytest.raises(P.PatchError, match="ambiguous"):
        P.resolve("generic_file_llseek")
    m, name, slot = P.resolve("fs/proc/root.c:generic_file_llseek")
    assert (m.__name__, slot) == ("simkernel.fs.proc.internal", None)
    assert P.resolve("simkernel.fs.ramfs:generic_file_llseek")[0].__name__ == "simkernel.fs.ramfs"
    assert P.resolve("PROC_MAP_FILES_OPERATIONS.llseek")[0].__name__ == "simkernel.fs.proc.map_files"
    with pytest.raises(P.PatchError, match="has no"):
        P.resolve("simkernel.fs.ramfs:nothing_here")


def test_patching_one_slot_twice_reuses_its_patch_point() -> None:
    """A slot made patchable once stays the same patch point; two kernels may patch it differently."""
    a, b = setup(), setup()
    a.k.patch("PROC_MAP_FILES_OPERATIONS.iterate_shared", _deny)
    b.k.patch("PROC_MAP_FILES_OPERATIONS.iterate_shared", lambda orig, *x: orig(*x))
    with raises_errno(E.EACCES):
        a.root.sys.listdir(mf(a.t))
    assert len(b.root.sys.listdir(mf(b.t))) == 2
