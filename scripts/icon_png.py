"""resources/icon.png from resources/icon.svg (plugins.qgis.org asks for a PNG icon): 128 x 128, rendered
by Qt's SVG renderer. `python -m scripts.icon_png` after editing the SVG."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def render(svg: Path = REPO / "resources" / "icon.svg", png: Path = REPO / "resources" / "icon.png",
           size: int = 128) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtGui import QGuiApplication, QImage, QPainter
    from qgis.PyQt.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (kept alive)
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    if not image.save(str(png), "PNG"):
        raise RuntimeError(f"cannot write {png}")
    return png


if __name__ == "__main__":
    print(render())
