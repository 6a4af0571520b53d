"""The web page (`danlu ui`, `danlu serve --ui`): a thin gradio layer over the library.

    from fastapi import FastAPI
    from danlu.ui import UIContext, UISettings, mount

    app = mount(FastAPI(), UIContext.create(UISettings()), "/ui")

Needs the `ui` extra (`pip install 'danlu[ui]'`); importing this package imports gradio.
"""

from __future__ import annotations

from danlu.ui.app import build_blocks, mount
from danlu.ui.context import UIContext, UISettings

__all__ = ["UIContext", "UISettings", "build_blocks", "mount"]
