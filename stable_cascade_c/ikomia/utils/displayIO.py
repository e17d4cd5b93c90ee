"""``display(obj)``: show an image array (Pillow's viewer) or a ``CImageIO`` (matplotlib)."""
from __future__ import annotations

import numpy as np

from ..dataprocess import CImageIO


def display(obj, title: str = "", fig=None, **kwargs) -> None:
    """Show `obj` as Ikomia's displayIO does.

    - ``numpy.ndarray``: ``PIL.Image.fromarray(obj).show(title)`` (in Jupyter, register
      ``ImageShow.IPythonViewer()`` to show it inline, or use IPython.display);
    - ``CImageIO``: matplotlib ``imshow`` (returns silently when the output is empty);
    - anything else, ``None`` included: ``NotImplementedError("Unsupported type")``.
    """
    if isinstance(obj, CImageIO):
        image = obj.get_image()
        if image is None:
            return
        import matplotlib.pyplot as plt

        figure = fig or plt.figure()
        axes = figure.add_subplot(1, 1, 1)
        axes.imshow(image)
        axes.set_title(title)
        axes.axis("off")
        plt.show()
        return
    if isinstance(obj, np.ndarray):
        from PIL import Image

        Image.fromarray(obj).show(title or None)
        return
    raise NotImplementedError("Unsupported type")
