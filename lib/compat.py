"""Keep torchvision-dependent imports working on CPU-only torch.

The PyPI torchvision 0.28.0 is built against CUDA torch; on the CPU torch wheel its compiled
extension cannot load and `import torchvision` raises
`RuntimeError: operator torchvision::nms does not exist`. That breaks open_clip and every
transformers model class that imports torchvision. Declaring the two missing operator schemas
before torchvision registers its Python fallbacks lets the pure-Python parts import; the
compiled ops then raise at call time. Where torchvision's extension loads, nothing is changed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor qdets, Tensor qscores, float iou_threshold) -> Tensor",
)
_state: dict[str, object] = {}


def _extension_loads(package_dir: Path) -> bool:
    import torch

    for candidate in sorted(package_dir.glob("_C*.so")) + sorted(package_dir.glob("_C*.pyd")):
        try:
            torch.ops.load_library(str(candidate))
            return True
        except OSError:
            return False
    return False


def ensure_torchvision_importable() -> bool:
    """Declare torchvision's missing op schemas if (and only if) its extension cannot load.

    Returns True when the shim is in place, False when it was not needed (torchvision works,
    is absent, or was already imported). Idempotent and cheap.
    """
    if "patched" in _state:
        return bool(_state["patched"])
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None or "torchvision" in sys.modules:
        _state["patched"] = False
        return False
    if _extension_loads(Path(spec.origin).parent):
        _state["patched"] = False
        return False
    import torch

    library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        library.define(schema)
    _state["library"] = library  # the registration lives as long as this object
    _state["patched"] = True
    return True
