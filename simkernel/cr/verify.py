"""The round-trip check: is the restored tree the dumped one?

Dump the restored tree again with the same dumper and compare the two images in a *canonical* form that
drops what legitimately changes (pids, inode and device numbers, the dumper's own view) and keeps what must
not: per task its place in the tree, name, credentials and dumpable flag, and per VMA range, prot,
shared/private, offset, open mode and which object it maps.  Objects are renamed "F0", "F1", ... in order of
first appearance, so two VMAs map one object in the restored tree exactly when they did in the original
(same inode where the original shared one); each object keeps its kind, path text, mode, owner, size, link
count and the bytes the image carries.

Example:
    >>> from simkernel.cr.image import Image
    >>> empty = Image(source="a", lookup="map_files", tasks=[], files=[])
    >>> compare(empty, Image(source="b", lookup="maps", tasks=[], files=[]))
    []
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs

from simkernel.cr.image import KIND_REG, Image

__all__ = ["canonical", "compare", "assert_same"]


def canonical(image: Image, *, with_how: bool = False, cap_mask: int = (1 << 64) - 1) -> dict[str, Any]:
    """The comparable form of an image (see the module docstring).

    Args:
        image: the image.
        with_how: keep each VMA's HOW_* decision (to compare two dumps made at the same privilege).
        cap_mask: capability bits to keep (a host whose test process lacks some capability compares the rest).
    """
    labels: dict[str, str] = {}
    index = {t.pid: i for i, t in enumerate(image.tasks)}

    def label(file_id: str | None) -> str | None:
        if file_id is None:
            return None
        return labels.setdefault(file_id, f"F{len(labels)}")

    tasks = []
    for t in image.tasks:
        cred = attrs.asdict(t.cred)
        for k in ("cap_inheritable", "cap_permitted", "cap_effective", "cap_bset", "cap_ambient"):
            cred[k] &= cap_mask
        vmas = []
        for v in t.vmas:
            row: dict[str, Any] = {"range": f"{v.start:x}-{v.end:x}", "prot": v.prot, "shared": v.shared,
                                   "offset": v.offset, "file": label(v.file), "open_flags": v.open_flags,
                                   "name": v.name}
            if with_how:
                row["how"] = v.how
            vmas.append(row)
        tasks.append({"parent": index.get(t.ppid), "comm": t.comm, "cred": cred, "dumpable": t.dumpable,
                      "access": t.access, "vmas": vmas})
    files = {}
    for f in image.files:
        if f.id in labels:
            files[labels[f.id]] = {"kind": f.kind, "path": f.path, "mode": f.mode, "uid": f.uid, "gid": f.gid,
                                   "size": f.size, "nlink": f.nlink, "contents": f.contents}
    return {"tasks": tasks, "files": dict(sorted(files.items(), key=lambda kv: int(kv[0][1:])))}


def _diff(a: Any, b: Any, where: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            _diff(a.get(k, "<missing>"), b.get(k, "<missing>"), f"{where}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items != {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{where}[{i}]", out)
    elif a != b:
        out.append(f"{where}: {_short(a)} != {_short(b)}")


def _short(x: Any) -> str:
    """repr, with bytes shortened to their length and a digest (file contents can be megabytes)."""
    if isinstance(x, bytes) and len(x) > 32:
        return f"<{len(x)} bytes {x[:16]!r}... sha256 {hashlib.sha256(x).hexdigest()[:12]}>"
    return repr(x)


def compare(original: Image, restored: Image, *, same_inodes: bool = False, with_how: bool = False,
            cap_mask: int = (1 << 64) - 1) -> list[str]:
    """The differences between two images' canonical forms ([] when the round trip is exact).

    Args:
        same_inodes: also require each regular file to be the very inode (dev, ino) it was (a restore into the
            same kernel reopens the same files).
        with_how, cap_mask: as for canonical().
    """
    out: list[str] = []
    _diff(canonical(original, with_how=with_how, cap_mask=cap_mask),
          canonical(restored, with_how=with_how, cap_mask=cap_mask), "image", out)
    if same_inodes:
        by_label_a = _reg_inodes(original)
        by_label_b = _reg_inodes(restored)
        if by_label_a != by_label_b:
            out.append(f"regular-file inodes: {by_label_a} != {by_label_b}")
    return out


def _reg_inodes(image: Image) -> list[tuple[str, int, int]]:
    seen: dict[str, None] = {}
    for t in image.tasks:
        for v in t.vmas:
            if v.file is not None:
                seen.setdefault(v.file, None)
    return [(f.path, f.dev, f.ino) for fid in seen for f in [image.file(fid)] if f.kind == KIND_REG]


def assert_same(original: Image, restored: Image, **kwargs: Any) -> None:
    """Raise AssertionError listing every difference (see compare())."""
    diffs = compare(original, restored, **kwargs)
    if diffs:
        raise AssertionError("restored state differs from the original:\n  " + "\n  ".join(diffs))
