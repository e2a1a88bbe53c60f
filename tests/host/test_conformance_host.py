"""`python -m simkernel conformance` on this machine: the whole host-capable library agrees with the kernel."""

from __future__ import annotations

import subprocess
import sys
from typing import Any


def test_conformance_command_finds_no_difference(host: Any, compared: Any) -> None:
    """The command runs every host-capable scenario on both kernels, prints progress, and exits 0."""
    proc = subprocess.run([sys.executable, "-m", "simkernel", "conformance"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    n, _ = last.split(" observations compared, ")
    assert last.endswith(", 0 differ") and int(n) > 50
    compared.add(int(n))
