"""A simplified ELF loader: the same decisions as load_elf_binary(), over a small text format.

Format.  A file whose first bytes are b"\\x7fELF" is an executable; what follows the four magic bytes is
UTF-8 text, one directive per line (blank lines and lines starting with '#' are ignored):

    type exec|dyn                          ET_EXEC (fixed addresses) or ET_DYN (PIE / shared object); default exec
    load VADDR FILESZ MEMSZ OFFSET PROT    one PT_LOAD segment: numbers hex (0x...) or decimal, PROT from "rwx"
    interp PATH                            PT_INTERP: the program interpreter (a simplified ELF of type dyn)
    entry VADDR                            e_entry (kept, not used)

Example, a PIE with an interpreter (what `gcc -pie` makes, in small):

    \\x7fELF
    type dyn
    interp /lib64/ld-linux-x86-64.so.2
    load 0x0    0x1000 0x1000 0x0    r
    load 0x1000 0x2000 0x2000 0x1000 rx
    load 0x3000 0x800  0x3000 0x3000 rw

Each load maps [PAGESTART(VADDR), PAGEALIGN(VADDR+FILESZ)) of the file at OFFSET - PAGEOFFSET(VADDR), private,
with PROT; a MEMSZ beyond the file-backed pages adds an anonymous (bss) mapping.  ET_EXEC segments go at their
addresses (MAP_FIXED_NOREPLACE for the first); an ET_DYN program with an interpreter is placed at
ELF_ET_DYN_BASE (0x555555554000, no randomization), one without (an interpreter run directly) and every
interpreter where mmap puts it (top-down).  The program break starts at the page after the program's highest
segment end.  Anything that does not parse is ENOEXEC; a VADDR/OFFSET pair that is not congruent modulo the
page size, or no load line at all, is ENOEXEC too (the kernel would fail the mmap with EINVAL).

Simplification: no vDSO/vvar mappings, no auxv/argv contents on the stack (the stack is one 132 KiB VMA below
STACK_TOP), no address-space randomization (as `setarch -R`).

Linux: fs/binfmt_elf.c:load_elf_binary(), load_elf_interp(), elf_map(), elf_load()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from simkernel.errors import KernelError
from simkernel.uapi import errno as E
from simkernel.uapi import mman as M

if TYPE_CHECKING:
    from simkernel.fs.exec import LinuxBinprm
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task

__all__ = ["ELFMAG", "ElfSegment", "ElfImage", "parse_elf", "load_elf_binary", "ELF_ET_DYN_BASE",
           "STACK_VMA_SIZE", "ELIBBAD"]

ELFMAG = b"\x7fELF"
PAGE_SIZE = 4096
ELF_ET_DYN_BASE = (((1 << 47) - PAGE_SIZE) // 3 * 2) & ~(PAGE_SIZE - 1)   # 0x555555554000
STACK_VMA_SIZE = 0x21000                    # 132 KiB: the initial [stack] of a small exec without ASLR
MAX_IMAGE = 64 << 10                        # the description must fit in 64 KiB
ELIBBAD = E.ELIBBAD


def _pagestart(x: int) -> int:
    return x & ~(PAGE_SIZE - 1)


def _pagealign(x: int) -> int:
    return (x + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


@frozen
class ElfSegment:
    """One PT_LOAD program header."""

    vaddr: int
    filesz: int
    memsz: int
    offset: int
    prot: int


@frozen
class ElfImage:
    """The parsed header: e_type, program headers, PT_INTERP, e_entry."""

    dyn: bool
    segments: tuple[ElfSegment, ...]
    interp: str | None = None
    entry: int = 0
    extra: tuple[Any, ...] = field(default=(), repr=False)


def _num(word: str) -> int:
    try:
        return int(word, 0)
    except ValueError:
        raise KernelError(E.ENOEXEC, explain=f"ELF: {word!r} is not a number") from None


def parse_elf(data: bytes) -> ElfImage:
    """Parse a simplified ELF image (see the module docstring).

    Raises:
        KernelError(ENOEXEC): no ELF magic, an unknown directive, bad numbers, no load segment.

    Linux: fs/binfmt_elf.c:load_elf_binary() (the header checks), load_elf_phdrs()
    """
    if not data.startswith(ELFMAG):
        raise KernelError(E.ENOEXEC, explain="not an ELF file (no \\x7fELF magic)")
    try:
        text = data[4:MAX_IMAGE].decode("utf-8")
    except UnicodeDecodeError:
        raise KernelError(E.ENOEXEC, explain="ELF: the description is not UTF-8") from None
    dyn, segs, interp, entry = False, [], None, 0
    for raw in text.splitlines():
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        key, args = words[0], words[1:]
        if key == "type" and len(args) == 1 and args[0] in ("exec", "dyn"):
            dyn = args[0] == "dyn"
        elif key == "load" and len(args) == 5:
            vaddr, filesz, memsz, offset = (_num(a) for a in args[:4])
            if not set(args[4]) <= set("rwx-") or min(vaddr, filesz, memsz, offset) < 0 or memsz < filesz:
                raise KernelError(E.ENOEXEC, explain=f"ELF: bad load line {raw.strip()!r}")
            if vaddr % PAGE_SIZE != offset % PAGE_SIZE:
                raise KernelError(E.ENOEXEC, explain=f"ELF: vaddr and offset not congruent in {raw.strip()!r}")
            prot = ((M.PROT_READ if "r" in args[4] else 0) | (M.PROT_WRITE if "w" in args[4] else 0)
                    | (M.PROT_EXEC if "x" in args[4] else 0))
            segs.append(ElfSegment(vaddr, filesz, memsz, offset, prot))
        elif key == "interp" and len(args) == 1:
            interp = args[0]
        elif key == "entry" and len(args) == 1:
            entry = _num(args[0])
        else:
            raise KernelError(E.ENOEXEC, explain=f"ELF: cannot parse {raw.strip()!r}")
    if not segs:
        raise KernelError(E.ENOEXEC, explain="ELF: no load segment")
    return ElfImage(dyn=dyn, segments=tuple(segs), interp=interp, entry=entry)


def _read_image(current: Task, file: File) -> bytes:
    """kernel_read() of the whole description."""
    from simkernel.fs.read_write import vfs_read
    return vfs_read(current, file, MAX_IMAGE, 0)


def _total_mapping_size(segs: tuple[ElfSegment, ...]) -> int:
    """total_mapping_size(): from the first segment's page to the end of the last. Linux: fs/binfmt_elf.c"""
    return segs[-1].vaddr + segs[-1].memsz - _pagestart(segs[0].vaddr)


def _elf_load(current: Task, file: File, addr: int, seg: ElfSegment, flags: int, total_size: int) -> int:
    """Map one segment (file part, then anonymous bss pages); returns where its first page went.

    Linux: fs/binfmt_elf.c:elf_load(), elf_map()
    """
    from simkernel.mm.mmap import sys_munmap, vm_mmap_pgoff
    off = seg.offset - (seg.vaddr & (PAGE_SIZE - 1))
    size = _pagealign(seg.filesz + (seg.vaddr & (PAGE_SIZE - 1)))
    start = _pagestart(addr)
    if size:
        if total_size:
            map_addr = vm_mmap_pgoff(current, file, start, _pagealign(total_size), seg.prot, flags,
                                     off // PAGE_SIZE)
            if _pagealign(total_size) > size:
                sys_munmap(current, map_addr + size, _pagealign(total_size) - size)
        else:
            map_addr = vm_mmap_pgoff(current, file, start, size, seg.prot, flags, off // PAGE_SIZE)
    else:
        map_addr = start
    bss_start = _pagealign(map_addr + (addr - start) + seg.filesz)
    bss_end = _pagealign(map_addr + (addr - start) + seg.memsz)
    if bss_end > bss_start:
        vm_mmap_pgoff(current, None, bss_start, bss_end - bss_start, seg.prot,
                      M.MAP_PRIVATE | M.MAP_ANONYMOUS | M.MAP_FIXED, 0)
    return map_addr


def _map_image(current: Task, file: File, img: ElfImage, load_bias: int | None) -> tuple[int, int]:
    """Map every load segment; `load_bias` None lets mmap choose (ET_DYN without a fixed base).

    Returns (load_bias, highest end).
    """
    first = True
    bias = 0 if load_bias is None else load_bias
    high = 0
    total = _total_mapping_size(img.segments)
    for seg in img.segments:
        flags = M.MAP_PRIVATE
        if not first:
            flags |= M.MAP_FIXED
        elif load_bias is not None:
            flags |= M.MAP_FIXED_NOREPLACE
        addr = _elf_load(current, file, bias + seg.vaddr, seg, flags, total if first and img.dyn else 0)
        if first and load_bias is None:
            bias = addr - _pagestart(seg.vaddr)
        first = False
        high = max(high, bias + seg.vaddr + seg.memsz)
    return bias, high


def _setup_arg_pages(current: Task) -> None:
    """The initial stack: one VMA just below STACK_TOP, named [stack]. Linux: fs/exec.c:setup_arg_pages()"""
    from simkernel.mm.mm_types import (STACK_TOP, VM_ACCOUNT, VM_GROWSDOWN, VM_MAYEXEC, VM_MAYREAD, VM_MAYWRITE,
                                       VM_READ, VM_WRITE)
    from simkernel.mm.vma import vm_area_alloc, vm_stat_account, vma_link
    mm = current.mm
    assert mm is not None
    vma = vm_area_alloc(mm)
    vma.vm_start, vma.vm_end = STACK_TOP - STACK_VMA_SIZE, STACK_TOP
    vma.vm_flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_GROWSDOWN | VM_ACCOUNT
    vma.vm_pgoff = vma.vm_start >> 12
    vma.anon_name = "[stack]"
    vma_link(mm, vma)
    vm_stat_account(mm, vma.vm_flags, STACK_VMA_SIZE >> 12)
    mm.start_stack = STACK_TOP - PAGE_SIZE


def load_elf_binary(current: Task, bprm: LinuxBinprm) -> None:
    """Check the image and its interpreter, pass the point of no return, and build the new address space.

    Before begin_new_exec() errors return to the caller: ENOEXEC for a bad image; the interpreter's open
    errors (ENOENT, EACCES, ...); ELIBBAD when the interpreter is not ELF.  After it, the new mm is built:
    stack, program segments, break, interpreter.

    Linux: fs/binfmt_elf.c:load_elf_binary()
    """
    from simkernel.fs.exec import open_exec
    from simkernel.fs.file_table import fput
    img = parse_elf(bprm.buf)
    interp_file = None
    if img.interp is not None:
        interp_file = open_exec(current, img.interp)
    try:
        _load_with_interp(current, bprm, img, interp_file)
    finally:
        if interp_file is not None:
            fput(interp_file)       # fput(interpreter): after load_elf_interp(), and on every error path


def _load_with_interp(current: Task, bprm: Any, img: ElfImage, interp_file: Any) -> None:
    """load_elf_binary() from the interpreter checks on (the caller holds and puts the interpreter's file)."""
    from simkernel.fs.exec import begin_new_exec, setup_new_exec, would_dump
    interp_img = None
    if interp_file is not None:
        would_dump(current, bprm, interp_file)
        data = _read_image(current, interp_file)
        if not data.startswith(ELFMAG):
            raise KernelError(ELIBBAD, explain=f"interpreter {img.interp} is not an ELF file")
        try:
            interp_img = parse_elf(data)
        except KernelError:
            raise KernelError(ELIBBAD, explain=f"interpreter {img.interp} is not a valid ELF file") from None
    begin_new_exec(current, bprm)
    setup_new_exec(current, bprm)
    _setup_arg_pages(current)
    if img.dyn:
        load_bias = _pagestart(ELF_ET_DYN_BASE - img.segments[0].vaddr) if interp_img is not None else None
    else:
        load_bias = 0
    bias, high = _map_image(current, bprm.file, img, load_bias)
    mm = current.mm
    assert mm is not None
    mm.start_brk = mm.brk = _pagealign(high)
    if interp_img is not None:
        assert interp_file is not None
        _map_image(current, interp_file, interp_img, None)
    bprm.entry = bias + img.entry
