"""YOLO-World v2 on mmyolo: importing this package registers every official type name.

worldtune's own implementation (not the official code): models, data transforms, dataset wrapper,
collate function, data preprocessor and optimizer constructor, under the names official configs use.
"""
from trainables.yolo_world import (  # noqa: F401
    data,
    models,  # noqa: F401,E402
    optim,
)
