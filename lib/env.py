"""Keep tool state out of the home directory: every location below is a folder of `.cache/`.

`import lib` calls `configure()`, so any entry point that imports `lib` (`lib.runner`, the
Snakefile, `python -m lib.*`, a notebook) sets these before a kernel, matplotlib, Jupyter or a
hub client starts; child processes (papermill kernels, Snakemake jobs) inherit them. A variable
already set is left alone. `python -m lib.workflow exec CMD ...` runs a command that does not
import `lib` (e.g. `jupyter lab`) with them.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

from lib.paths import CACHE, ROOT

# variable -> folder under CACHE
LOCATIONS: dict[str, str] = {
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
    "JUPYTER_CONFIG_DIR": "jupyter/config",
    "JUPYTER_DATA_DIR": "jupyter/data",
    "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
    "JUPYTERLAB_SETTINGS_DIR": "jupyter/lab/user-settings",
    "JUPYTERLAB_WORKSPACES_DIR": "jupyter/lab/workspaces",
    "XDG_CACHE_HOME": "xdg/cache",
    "XDG_DATA_HOME": "xdg/data",
    "XDG_STATE_HOME": "xdg/state",
    "HF_HOME": "huggingface",
    "NLTK_DATA": "nltk_data",
    "PIP_CACHE_DIR": "pip",
    "TRITON_CACHE_DIR": "triton",
    "NUMBA_CACHE_DIR": "numba",
    "CUDA_CACHE_PATH": "nv",
    # JupyterLab's extension manager and builds: npm and yarn caches and logs
    "npm_config_cache": "npm",
    "YARN_CACHE_FOLDER": "yarn/cache",
    "YARN_GLOBAL_FOLDER": "yarn/global",
}
# settings that are not locations; JUPYTER_PLATFORM_DIRS=1 also silences jupyter_core's
# "migrating to platformdirs" DeprecationWarning; JUPYTER_CONFIG_PATH adds the repository's
# tracked `jupyter/` folder, whose labconfig makes JupyterLab open a `.py` notebook as a notebook
SETTINGS: dict[str, str] = {"JUPYTER_PLATFORM_DIRS": "1",
                            "JUPYTER_CONFIG_PATH": str(ROOT / "jupyter")}


def locations(cache: Path = CACHE) -> dict[str, str]:
    """Every variable this module sets and the value it gives (absolute paths under `cache`)."""
    return {**{k: str(cache / v) for k, v in LOCATIONS.items()}, **SETTINGS}


def configure(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set each variable of `locations()` that `environ` (default `os.environ`) lacks.

    Returns the ones it set. Creates no folder: each tool creates its own on first use.
    """
    environ = os.environ if environ is None else environ
    added = {k: v for k, v in locations().items() if not environ.get(k)}
    environ.update(added)
    return added

