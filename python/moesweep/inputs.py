"""Request messages built from Python keywords (Client.predict)."""

from .errors import Error
from .v1 import law_pb2 as lpb

# RunFeatures fields (law.proto) and the names people use for the law's N, D.
_FEATURES = tuple(f.name for f in lpb.RunFeatures.DESCRIPTOR.fields)
_ALIASES = {"D": "tokens"}


def _features(values):
    """RunFeatures from keyword features. `params`/`N` (the law's total
    parameters, embeddings included) and `active_params` are given as
    non-embedding counts with n_embed 0, which the coordinator adds back:
    params = n_total_ne + n_embed, active = n_active_ne + n_embed."""
    f = lpb.RunFeatures()
    for key, value in values.items():
        name = _ALIASES.get(key, key)
        if name in ("params", "N"):
            f.n_total_ne = float(value)
        elif name == "active_params":
            f.n_active_ne = float(value)
        elif name in _FEATURES:
            setattr(f, name, float(value))
        else:
            raise Error("INVALID_ARGUMENT",
                        f"unknown feature '{key}' (one of params, "
                        f"active_params, {', '.join(_FEATURES)})")
    return f


def prediction_input(spec):
    """A PredictionInput from predict()'s keywords: architecture= with
    train_tokens=, or law features."""
    spec = dict(spec)
    p = lpb.PredictionInput()
    arch = spec.pop("architecture", None)
    tokens = spec.pop("train_tokens", None)
    if arch is not None:
        if spec:
            raise Error("INVALID_ARGUMENT",
                        "give an architecture (with train_tokens) or "
                        "features, not both")
        for key, value in arch.items():
            try:
                setattr(p.architecture, key, value)
            except (AttributeError, TypeError, ValueError) as e:
                raise Error("INVALID_ARGUMENT",
                            f"architecture.{key}: {e}") from None
        p.train_tokens = int(tokens or 0)
    else:
        p.features.CopyFrom(_features(spec))
    return p
