"""Scores and reason weights for one invoice in tens of microseconds.

``lightgbm.Booster.predict`` costs 75-100 us per call for one row on this machine, almost all
of it in the Python wrapper, and TreeSHAP (``pred_contrib``) 0.5-1.2 ms per model. A decision
needs five models and the contributions of two. This module uses LightGBM's single-row fast
path (``LGBM_BoosterPredictForMatSingleRowFast``: the prediction config is prepared once per
model) and explains a score by **path attribution**: in every tree, the change of the node
value at each split on the invoice's path is credited to that split's feature. The credits of
a tree add up to its leaf value minus its root value, so over all trees they add up exactly to
the raw score minus a constant bias, like TreeSHAP's; unlike TreeSHAP they cost one leaf
lookup per tree. The credit tables (one row per leaf, one column per feature) are built once
from the model dump.
"""

from __future__ import annotations

import ctypes
import threading
import weakref

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _c_str, _safe_call

PREDICT_NORMAL = 0
PREDICT_LEAF_INDEX = 2
DTYPE_FLOAT64 = 1
# The same library, called without releasing the GIL: a single-row prediction takes a few
# microseconds, while giving the GIL away lets another thread keep it for up to the switch
# interval (5 ms) before this one may continue.
_HOLDING_GIL = ctypes.PyDLL(_LIB._name)


class SingleRowPredictor:
    """One model's fast single-row prediction of one kind (scores or leaf indices).

    Args:
        booster: The LightGBM model.
        n_features: Length of the rows it will be given.
        predict_type: ``PREDICT_NORMAL`` or ``PREDICT_LEAF_INDEX``.
    """

    def __init__(self, booster: lgb.Booster, n_features: int, predict_type: int) -> None:
        self._booster = booster  # keeps the model alive as long as its prepared config
        self._handle = ctypes.c_void_p()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(predict_type),
                ctypes.c_int(0),
                ctypes.c_int(-1),
                ctypes.c_int(DTYPE_FLOAT64),
                ctypes.c_int32(n_features),
                _c_str("num_threads=1"),
                ctypes.byref(self._handle),
            )
        )
        self._free = weakref.finalize(self, _LIB.LGBM_FastConfigFree, self._handle)
        size = booster.num_trees() if predict_type == PREDICT_LEAF_INDEX else 1
        self._out = np.empty(size, dtype=np.float64)
        self._out_len = ctypes.c_int64()
        self._out_pointer = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._lock = threading.Lock()

    def __call__(self, row: np.ndarray) -> np.ndarray:
        """The output for ``row`` (float64, C-contiguous, shape (n_features,)), a new array."""
        with self._lock:
            _safe_call(
                _HOLDING_GIL.LGBM_BoosterPredictForMatSingleRowFast(
                    self._handle,
                    row.ctypes.data_as(ctypes.c_void_p),
                    ctypes.byref(self._out_len),
                    self._out_pointer,
                )
            )
            return self._out.copy()


class PathAttribution:
    """Per-feature credits of one model's raw score, from the leaf each tree sends a row to.

    Args:
        booster: The LightGBM model.
        n_features: Number of model features.

    Attributes:
        bias: Sum of the trees' root values: the raw score before any split.
    """

    def __init__(self, booster: lgb.Booster, n_features: int) -> None:
        trees = booster.dump_model()["tree_info"]
        sizes = [int(tree["num_leaves"]) for tree in trees]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._credits = np.zeros((sum(sizes), n_features), dtype=np.float64)
        self.bias = 0.0
        for offset, tree in zip(self._offsets, trees, strict=True):
            root = tree["tree_structure"]
            root_value = float(root.get("internal_value", root.get("leaf_value", 0.0)))
            self.bias += root_value
            self._credit_paths(root, root_value, np.zeros(n_features), int(offset))
        self._leaves = SingleRowPredictor(booster, n_features, PREDICT_LEAF_INDEX)

    def _credit_paths(self, node: dict, value: float, path: np.ndarray, offset: int) -> None:
        """Fill the credit row of every leaf under ``node`` (iterative: trees may be deep)."""
        stack = [(node, value, path)]
        while stack:
            node, value, path = stack.pop()
            if "split_feature" not in node:
                self._credits[offset + int(node.get("leaf_index", 0))] = path
                continue
            feature = int(node["split_feature"])
            for child in (node["left_child"], node["right_child"]):
                child_value = float(child.get("internal_value", child.get("leaf_value", 0.0)))
                child_path = path.copy()
                child_path[feature] += child_value - value
                stack.append((child, child_value, child_path))

    def __call__(self, row: np.ndarray) -> np.ndarray:
        """Credits of shape (n_features + 1,), the bias last; they add up to the raw score."""
        leaves = self._leaves(row).astype(np.int64)
        credits = self._credits[self._offsets + leaves].sum(axis=0)
        return np.append(credits, self.bias)
