"""The dashboard's favicon, drawn locally (a material icon would be fetched from a font host)."""

from __future__ import annotations

import math

__all__ = ["favicon"]


def favicon():
    """A 64 px red hexagon on transparent ground (PIL image; Streamlit serves it itself)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    pts = [(32 + 29 * math.cos(math.radians(60 * i + 30)),
            32 + 29 * math.sin(math.radians(60 * i + 30))) for i in range(6)]
    ImageDraw.Draw(img).polygon(pts, fill=(178, 24, 43, 255), outline=(255, 255, 255, 255))
    return img
