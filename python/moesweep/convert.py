"""Protobuf messages to plain Python values, and rows to pandas frames.

A message becomes a dict keyed by the proto field names (snake_case, as in
proto/moesweep/v1/*.proto), with typed values: int64 and int32 fields are
`int` (the proto3 JSON mapping, which `moesweep campaign --json` prints, writes
int64 as strings), doubles are `float`, enums are their names
("CAMPAIGN_STATE_RUNNING"), repeated fields are lists. A field that can be
absent (a message field, a proto3 `optional` scalar, a oneof member) is None
when unset, so `trial["final_eval_loss"] is None` means "no loss yet", not 0.
Each real oneof also appears under its own name holding the name of the member
that is set (`event["kind"] == "law_updated"`), or None.
"""

from google.protobuf.descriptor import FieldDescriptor

try:  # Optional: frames only when pandas is installed (python3-pandas).
    import pandas as _pandas
except ImportError:  # pragma: no cover - depends on the machine
    _pandas = None


def have_pandas():
    """True when pandas can be imported, so as_frame=True is possible."""
    return _pandas is not None


def _scalar(field, value):
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return to_dict(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        named = field.enum_type.values_by_number.get(value)
        return named.name if named is not None else value
    return value


def _has_presence(field):
    return (field.type == FieldDescriptor.TYPE_MESSAGE or
            field.containing_oneof is not None)


def to_dict(message):
    """The message as a dict of typed values (see the module docstring)."""
    out = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.label == FieldDescriptor.LABEL_REPEATED:
            out[field.name] = [_scalar(field, v) for v in value]
        elif _has_presence(field) and not message.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _scalar(field, value)
    for oneof in message.DESCRIPTOR.oneofs:
        # proto3 `optional` fields live in synthetic oneofs named "_<field>".
        if not oneof.name.startswith("_"):
            out[oneof.name] = message.WhichOneof(oneof.name)
    return out


def flatten(row, prefix=""):
    """A nested dict as one level, keys joined by '.'; None sub-messages drop
    out (their columns are NaN in a frame), lists stay as they are."""
    out = {}
    for key, value in row.items():
        name = prefix + key
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif value is not None:
            out[name] = value
    return out


def frame(rows, columns=None):
    """A pandas DataFrame of flat rows; `columns` orders the leading ones.

    Integer columns stay int64 unless some row lacks them (then float64 with
    NaN, as pandas does); an absent optional double is NaN.
    """
    df = _pandas.DataFrame.from_records(rows)
    if columns:
        lead = [c for c in columns if c in df.columns]
        df = df[lead + [c for c in df.columns if c not in lead]]
    return df


def want_frame(as_frame):
    """Resolves an as_frame argument: None means 'when pandas is there'."""
    if as_frame is None:
        return have_pandas()
    if as_frame and not have_pandas():
        raise ImportError(
            "as_frame=True needs pandas (Debian: python3-pandas)")
    return bool(as_frame)
