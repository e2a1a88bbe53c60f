"""seq_file, the part procfs text files use: a page-sized buffer filled with whole records.

Carved from fs/seq_file.c for procfs.  A file's records come from a *cursor* `cursor(current, m, index) ->
(text, next_index) | None`: the record at position `index` (an opaque number: 0, 1 for single_open files; the
end address of the last VMA shown for maps) and the position of the one after it.  A cursor may instead be a
generator function `cursor(current, m, index)` yielding (text, next_index) for the record at `index` and each
one after it: the seq_operations shape, m_start() on the first step and m_next() on the later ones, for files
of many records (maps), whose iterator keeps its place instead of looking each record up again.  read(2)
behaves like seq_read_iter():

* bytes left in the buffer from the previous read are returned first (even if the task has gone since);
* then records are rendered into a buffer of m.size bytes (one page, doubled when a single record does not
  fit) while they fit and the caller still wants more -- so one read of a big maps text returns at most a
  page of whole lines;
* a read at another position than where the last one ended (lseek, pread) re-renders from the start up to
  that offset (traverse());
* an error from the cursor is returned only if nothing was copied in that call;
* a generator cursor is closed at the end of each read (m_stop(): maps drops the mmap lock there), before the
  copy to user memory, which is a might_fault() (mm/memory.py).

Linux: fs/seq_file.c:seq_read_iter(), traverse(), seq_lseek()
"""

from __future__ import annotations

from inspect import CO_GENERATOR
from typing import TYPE_CHECKING, Any, Callable, Iterator

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.mm.memory import might_fault
from simkernel.lib.fault_inject import should_fail
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task

__all__ = ["SeqFile", "Cursor", "seq_read", "seq_lseek", "traverse", "single_cursor", "SEQ_PAGE_SIZE"]

SEQ_PAGE_SIZE = 4096
SEEK_SET, SEEK_CUR = 0, 1

Cursor = Callable[["Task", "SeqFile", int], "tuple[bytes, int] | None"]


@define(eq=False)
class SeqFile:
    """struct seq_file: the buffer, the position of the next record (index) and of the next byte."""

    cursor: Cursor = field(repr=False)
    private: Any = field(default=None, repr=False)
    file: Any = field(default=None, repr=False)
    buf: bytes = b""
    size: int = SEQ_PAGE_SIZE
    count: int = 0       # bytes of buf not yet returned, starting at from_
    from_: int = 0
    index: int = 0
    read_pos: int = 0
    buf_allocated: bool = False   # m->buf != NULL: the page is allocated by the first read


def single_cursor(render: Callable[[Task], str]) -> Cursor:
    """single_open(): the whole text is one record at index 0. Linux: fs/seq_file.c:single_open()"""
    def cursor(current: Task, m: SeqFile, index: int) -> tuple[bytes, int] | None:
        if index != 0:
            return None
        return render(current).encode("utf-8", "surrogateescape"), 1
    return cursor


def _records(current: Task, m: SeqFile, index: int) -> Iterator[tuple[bytes, int]]:
    """The records from `index` on, whichever kind of cursor the file has (see the module docstring)."""
    cursor = m.cursor
    if getattr(cursor, "__code__", None) is not None and cursor.__code__.co_flags & CO_GENERATOR:
        return cursor(current, m, index)
    return _cursor_records(current, m, index)


def _cursor_records(current: Task, m: SeqFile, index: int) -> Iterator[tuple[bytes, int]]:
    cursor = m.cursor
    while True:
        rec = cursor(current, m, index)
        if rec is None:
            return
        yield rec
        index = rec[1]


def traverse(current: Task, m: SeqFile, offset: int) -> None:
    """traverse(): re-render records from the start until `offset`; the rest of that record stays pending.

    Linux: fs/seq_file.c:traverse()
    """
    m.index = 0
    m.count = m.from_ = 0
    if not offset:
        return
    pos = 0
    records = _records(current, m, 0)
    try:
        for data, nxt in records:
            while len(data) > m.size:   # Eoverflow: a bigger buffer, then -EAGAIN and again
                m.size <<= 1
            m.index = nxt
            if pos + len(data) > offset:
                m.buf = data
                m.from_ = offset - pos
                m.count = len(data) - m.from_
                return
            pos += len(data)
            if pos == offset:
                return
    finally:
        records.close()   # m_stop()


def seq_read(current: Task, file: File, count: int, pos: int) -> bytes:
    """seq_read_iter() for a read of `count` bytes at `pos`.

    Raises:
        the cursor's KernelError (ESRCH once the task is reaped, ...) when nothing could be copied.

    Linux: fs/seq_file.c:seq_read_iter()
    """
    m: SeqFile = file.private_data
    if count <= 0:
        return b""
    if not m.buf_allocated:   # "grab buffer if we didn't have one" (traverse() does the same first)
        if current is not None and current.fail_nth and should_fail(current, "alloc", "seq_buf_alloc"):
            raise KernelError(E.ENOMEM, "seq_read(): no memory for the buffer page (fail-nth)")
        m.buf_allocated = True
    if pos != m.read_pos:
        try:
            traverse(current, m, pos)
        except KernelError:   # "with prejudice": start over, and report the error
            m.read_pos = m.index = m.count = 0
            raise
        m.read_pos = pos
    out = b""
    if m.count:   # flush what the last read left in the buffer
        n = min(m.count, count)
        out = m.buf[m.from_:m.from_ + n]
        m.count -= n
        m.from_ += n
        if m.count:
            m.read_pos += n
            might_fault(current)   # copy_to_iter()
            return out
    m.from_ = 0
    err: KernelError | None = None
    records = _records(current, m, m.index)
    try:
        for data, nxt in records:   # get a non-empty record in the buffer
            if not data:
                m.index = nxt
                continue
            while len(data) > m.size:
                m.size <<= 1
            m.index = nxt
            want, size = count - len(out), m.size
            used = len(data)
            if used < want:
                parts = [data]
                index = nxt
                try:
                    for data, nxt in records:   # Fill: more whole records while they fit
                        used += len(data)
                        if used > size:
                            break
                        parts.append(data)
                        index = nxt
                        if used >= want:
                            break
                finally:
                    m.index = index     # the records taken (also if the cursor fails midway)
                buf = b"".join(parts)
            else:
                buf = data
            n = min(len(buf), want)
            m.buf, m.from_, m.count = buf, n, len(buf) - n
            if out:
                out += buf[:n]
            else:
                out = buf if n == len(buf) else buf[:n]
            break
        else:
            m.count = 0
    except KernelError as exc:
        m.count = 0
        err = exc
    finally:
        records.close()   # m_stop(): the cursor's locks are dropped before the copy to user memory
    if not out and err is not None:
        raise err
    m.read_pos += len(out)
    if out:
        might_fault(current)   # copy_to_iter()
    return out


def seq_lseek(current: Task, file: File, offset: int, whence: int) -> int:
    """seq_lseek(): SEEK_SET and SEEK_CUR only, never negative; a new position re-renders up to it.

    Raises:
        KernelError(EINVAL): another whence, or a negative result.
        the cursor's error while re-rendering (the position is then reset to 0).

    Linux: fs/seq_file.c:seq_lseek()
    """
    m = file.private_data
    if whence == SEEK_CUR:
        offset += file.f_pos
    elif whence != SEEK_SET:
        raise KernelError(E.EINVAL)
    if offset < 0:
        raise KernelError(E.EINVAL)
    if isinstance(m, SeqFile) and offset != m.read_pos:
        try:
            traverse(current, m, offset)
        except KernelError:   # the position is reset and the error returned
            file.f_pos = m.read_pos = m.index = m.count = 0
            raise
        m.read_pos = offset
    file.f_pos = offset
    return offset
