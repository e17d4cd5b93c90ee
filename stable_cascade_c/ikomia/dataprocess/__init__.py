"""Ikomia's image output object, ``CImageIO``."""
from __future__ import annotations

import base64
import io
import json
from typing import Optional

import numpy as np

from ..core import IODataType


class CImageIO:
    """An image output: ``get_image()`` returns ``uint8 (H, W, 3)`` RGB, or None when empty."""

    def __init__(self, image: Optional[np.ndarray] = None, name: str = "CImageIO"):
        self.name = name
        self.data_type = IODataType.IMAGE
        self.description = ""
        self.displayable = True
        self.auto_save = False
        self._image = None if image is None else np.ascontiguousarray(image)

    def get_image(self) -> Optional[np.ndarray]:
        return self._image

    def set_image(self, image: np.ndarray) -> None:
        self._image = np.ascontiguousarray(image)

    def is_data_available(self) -> bool:
        return self._image is not None

    def clear_data(self) -> None:
        self._image = None

    def get_channel_count(self) -> int:
        return 0 if self._image is None else (self._image.shape[2] if self._image.ndim == 3 else 1)

    def _encode(self, fmt: str) -> bytes:
        try:
            from PIL import Image
        except ImportError:
            raise RuntimeError("saving or serialising an image needs Pillow: pip install pillow") from None
        buf = io.BytesIO()
        Image.fromarray(self._image).save(buf, format=fmt)
        return buf.getvalue()

    def save(self, path: str) -> None:
        """Write the image; the format follows the file extension (Pillow)."""
        if self._image is None:
            raise RuntimeError("CImageIO.save: the output holds no image")
        try:
            from PIL import Image
        except ImportError:
            raise RuntimeError("CImageIO.save needs Pillow: pip install pillow") from None
        Image.fromarray(self._image).save(path)

    def to_json(self, options: Optional[list] = None) -> str:
        """``{"image": "<base64 JPEG>"}`` (PNG with options ``["image_format", "png"]``)."""
        opts = list(options or [])
        fmt = "JPEG"
        if "image_format" in opts and opts.index("image_format") + 1 < len(opts):
            fmt = opts[opts.index("image_format") + 1].upper()
        data = "" if self._image is None else base64.b64encode(self._encode(fmt)).decode("ascii")
        return json.dumps({"image": data}, indent=2 if "indented" in opts else None)

    def __repr__(self) -> str:
        return f"CImageIO(IODataType.IMAGE, {self.name})"
