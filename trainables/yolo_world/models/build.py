"""Build a YOLO-World model from an official-style config, with errors a user can act on.

mmdet's detectors build their parts from the registry of the current default
scope, so a model config only builds inside the 'mmyolo' scope (Runner configs set
``default_scope='mmyolo'``); ``build_model`` provides it. Before building it checks
every ``type`` and argument name, so that a typo is reported with the config path
and the closest valid names instead of a TypeError deep inside a constructor.
"""
from __future__ import annotations

import copy
import difflib
import inspect
from typing import Any

import torch
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmyolo.registry import MODELS, TASK_UTILS
from mmyolo.utils import register_all_modules
from torch import nn

# Sub-configs whose `type` is not a model/task type (NMS op names, weight initialisers).
_UNCHECKED_KEYS = ("test_cfg", "init_cfg")


class ModelConfigError(ValueError):
    """A model config names an unknown type or an argument its type does not take."""


def build_model(cfg: dict[str, Any], *, sync_bn_to_bn: bool | None = None) -> nn.Module:
    """Build ``cfg`` (a detector or any registered part) in the mmyolo scope.

    ``sync_bn_to_bn`` (default: when no GPU is present) builds SyncBN layers as BN,
    which is what a single CPU process can run; state dict keys do not change.
    """
    register_all_modules(init_default_scope=False)
    cfg = copy.deepcopy(cfg)
    if sync_bn_to_bn if sync_bn_to_bn is not None else not torch.cuda.is_available():
        _replace_sync_bn(cfg)
    with DefaultScope.overwrite_default_scope("mmyolo"):
        check_model_config(cfg)
        return MODELS.build(ConfigDict(cfg))


def check_model_config(cfg: dict[str, Any], path: str = "model") -> None:
    """Raise ModelConfigError for unknown types or arguments anywhere in ``cfg``."""
    if "type" in cfg:
        _check_arguments(cfg, path)
    for key, value in cfg.items():
        if key in _UNCHECKED_KEYS:
            continue
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, dict):
                suffix = f"[{i}]" if isinstance(value, list) else ""
                check_model_config(item, f"{path}.{key}{suffix}")


def _check_arguments(cfg: dict[str, Any], path: str) -> None:
    type_name = cfg["type"]
    if not isinstance(type_name, str):
        return
    cls = MODELS.get(type_name) or TASK_UTILS.get(type_name)
    if cls is None:
        known = list(MODELS.module_dict) + list(TASK_UTILS.module_dict)
        close = difflib.get_close_matches(type_name.split(".")[-1], known, n=3)
        raise ModelConfigError(
            f"{path}.type={type_name!r} is not a registered type"
            + (f"; did you mean {close}?" if close else "")
            + " (YOLO-World types register when trainables.yolo_world is imported)")
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    for arg in cfg:
        if arg != "type" and arg not in params:
            close = difflib.get_close_matches(arg, list(params), n=3)
            raise ModelConfigError(
                f"{path}: {type_name} takes no argument {arg!r}"
                + (f"; did you mean {close}?" if close else "")
                + f" (it takes: {', '.join(p for p in params if p not in ('self', 'args'))})")


def _replace_sync_bn(cfg: Any) -> None:
    if isinstance(cfg, dict):
        if cfg.get("type") in ("SyncBN", "nn.SyncBatchNorm"):
            cfg["type"] = "BN"
        for value in cfg.values():
            _replace_sync_bn(value)
    elif isinstance(cfg, list):
        for item in cfg:
            _replace_sync_bn(item)
