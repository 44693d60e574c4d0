"""Draw the app icon (a chat bubble on a rounded square) in the formats each system wants.

<out>/desktop-llm.png    256 px: Linux menus (hicolor theme) and the window
<out>/desktop-llm.ico    Windows: 16-256 px in one file
<out>/desktop-llm.icns   macOS
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 1024
BACKGROUND = (37, 99, 235)  # the accent blue of the page's light theme
BUBBLE = (255, 255, 255)


def draw() -> Image.Image:
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((40, 40, SIZE - 40, SIZE - 40), radius=200, fill=BACKGROUND)
    pen.rounded_rectangle((200, 240, 824, 680), radius=120, fill=BUBBLE)
    pen.polygon([(330, 660), (300, 840), (500, 670)], fill=BUBBLE)
    for x in (360, 512, 664):  # the "typing" dots
        pen.ellipse((x - 48, 412, x + 48, 508), fill=BACKGROUND)
    return image


def write_icons(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    image = draw()
    image.resize((256, 256), Image.LANCZOS).save(out / "desktop-llm.png")
    image.save(out / "desktop-llm.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    image.save(out / "desktop-llm.icns")
    return out


if __name__ == "__main__":
    print(write_icons(Path(sys.argv[1] if len(sys.argv) > 1 else "build/icons")))
