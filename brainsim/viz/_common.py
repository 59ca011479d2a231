"""Shared helpers of :mod:`brainsim.viz`: the error class, colours, text measurement, saving.

Figures are built with :class:`matplotlib.figure.Figure` directly (never ``pyplot``): no GUI backend,
no global figure registry, nothing to close; they render with Agg and display in notebooks as usual.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, Optional

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import BrainsimError

SAVE_FORMATS = ("png", "svg", "pdf")

# An area type's colour is its class's ``color`` attribute; a type without one gets a stable hashed
# colour from this palette.
_EXTRA = ("#66C2A5", "#FC8D62", "#E78AC3", "#FFD92F", "#B3B3B3", "#1B9E77", "#D95F02", "#7570B3",
          "#E7298A", "#66A61E", "#E6AB02", "#A6761D")
INPUT_COLOR = "#D9D9D9"
OUTPUT_COLOR = "#F2F2F2"
GATE_COLOR = "#7B3294"
EDGE_COLOR = "#404040"


class VizError(BrainsimError):
    """A figure or report cannot be made: missing run directory, summary, flow recording or bad format."""


def type_color(area: Any) -> str:
    """The colour of an area type: its class's ``color`` (:attr:`brainsim.area.Area.color`), or a stable
    hash of its type name when that is ``None``.

    Args:
        area: an Area class or instance, or a registered type name.
    """
    if isinstance(area, str):
        from ..area import area_types

        name, cls = area, area_types().get(area)
    else:
        cls = area if isinstance(area, type) else type(area)
        name = cls.type_name
    color = getattr(cls, "color", None)
    if color is not None:
        return color
    h = int(hashlib.sha1(name.encode()).hexdigest(), 16)
    return _EXTRA[h % len(_EXTRA)]


def new_figure(width_in: float, height_in: float, dpi: float = 100) -> Figure:
    """A pyplot-free figure with an Agg canvas attached."""
    fig = Figure(figsize=(max(width_in, 1.0), max(height_in, 1.0)), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def inch_axes(fig: Figure, left: float, bottom: float, width: float, height: float):
    """An axes placed in inches from the figure's bottom-left corner (no layout engine: fast, predictable)."""
    W, H = fig.get_size_inches()
    return fig.add_axes([left / W, bottom / H, width / W, height / H])


class TextMeasure:
    """Measures text extents in points (exactly as Agg will render them at any dpi)."""

    def __init__(self):
        self.fig = new_figure(4, 4, dpi=72)
        self.renderer = self.fig.canvas.get_renderer()
        self._cache: dict = {}

    def size(self, text: str, fontsize: float, weight: str = "normal") -> tuple[float, float]:
        """``(width, height)`` in points of ``text`` (multi-line allowed)."""
        k = (text, fontsize, weight)
        if k not in self._cache:
            t = self.fig.text(0, 0, text, fontsize=fontsize, fontweight=weight)
            bb = t.get_window_extent(self.renderer)
            t.remove()
            self._cache[k] = (bb.width, bb.height)
        return self._cache[k]


def save_figure(fig: Figure, path: "str | Path", dpi: Optional[float] = None) -> Path:
    """Save a figure as PNG, SVG or PDF (chosen by the suffix); SVG keeps text as ``<text>`` elements.

    Raises:
        VizError: the suffix is not .png, .svg or .pdf, or the directory cannot be written.
    """
    from matplotlib import rc_context

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in SAVE_FORMATS:
        raise VizError(f"cannot write '{path}': unknown figure format '.{fmt}'", str(path),
                       hint="use a .png, .svg or .pdf file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VizError(f"cannot create the directory of '{path}': {e}", str(path)) from None
    meta = {"png": {"Software": None}, "svg": {"Creator": None, "Date": None},
            "pdf": {"Creator": None, "Producer": None, "CreationDate": None}}[fmt]
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "brainsim"}):
        try:
            fig.savefig(path, format=fmt, dpi=dpi or fig.dpi, metadata=meta, facecolor="white")
        except OSError as e:
            raise VizError(f"cannot write '{path}': {e}", str(path)) from None
    return path


def figure_png_bytes(fig: Figure, dpi: Optional[float] = None) -> bytes:
    """The figure as PNG bytes (no metadata)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()
