"""The one place that imports every module registering worldtune types into mmyolo's registries.

Import this before building a config: mmengine only knows a type after its module was imported.
"""
from __future__ import annotations

from mmyolo.utils import register_all_modules

register_all_modules(init_default_scope=False)

import trainables.hooks  # noqa: E402,F401
import trainables.lr_schedule  # noqa: E402,F401
import trainables.metrics  # noqa: E402,F401
import trainables.retention  # noqa: E402,F401
import trainables.yolo_world  # noqa: E402,F401
