"""Checks records against the wire contract, fast, and parses request bodies as strict JSON."""

# The fast path is the contract file itself, compiled by fastjsonschema. fastjsonschema knows
# drafts 4 to 7, not 2020-12, so the file is first rewritten into its draft-07 equivalent by a
# small translation that accepts only keywords whose meaning it preserves and refuses anything
# else (see _to_draft07). marshmallow (field_core.wire) runs only when the fast path rejects, to
# name every problem; a test table proves that both agree with the JSON Schema reference.

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any, NoReturn

import fastjsonschema
from marshmallow import ValidationError

from field_core.contract import RECORD_TYPES, load_schema
from field_core.wire import RECORD_DATA_SCHEMAS, RecordEnvelope, problems_from_messages

__all__ = [
    "FieldProblem",
    "MalformedJSON",
    "parse_json_strict",
    "validate_record",
    "validate_record_data",
]

FieldProblem = dict[str, str]
"""One problem item: {"field": dotted path, "message": text for a person}."""


# --------------------------------------------------------------------------- strict JSON


class MalformedJSON(ValueError):
    """A request body that is not strict JSON (RFC 8259, UTF-8); str() is a one-line reason."""


def _reject_constant(name: str) -> NoReturn:
    raise MalformedJSON(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    # A literal like 1e400 parses to inf; JSON has no infinities, so it is out of range.
    if value - value != 0.0:
        raise MalformedJSON(f"number {literal[:40]} is out of range")
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedJSON(f"duplicate key {key[:80]!r} in an object")
            seen.add(key)
    return result


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    # A loop, not recursion: json.loads accepts nesting deeper than a recursive walk would survive.
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def parse_json_strict(raw: bytes | bytearray | memoryview) -> Any:
    """Parse a request body as strict JSON, or raise MalformedJSON with a one-line reason.

    Rejected: invalid UTF-8 (also UTF-16/32, which json.loads would guess), NaN, Infinity,
    -Infinity, numbers that overflow a double (1e400), duplicate keys in an object (readers
    disagree on which one wins, so the request would mean different things to a proxy, a log and
    the server), unpaired surrogate escapes such as "\\ud800" (no UTF-8 text or database can hold
    them), nesting too deep, and trailing data. A leading byte order mark is ignored, as RFC 8259
    allows.
    """
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedJSON(f"body is not UTF-8: invalid byte at offset {error.start}") from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise MalformedJSON("body is empty")
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_no_duplicate_keys,
        )
    except MalformedJSON:
        raise
    except json.JSONDecodeError as error:
        # Some messages end in "at" already ("Invalid control character at").
        where = f"line {error.lineno} column {error.colno}"
        joint = " " if error.msg.endswith(" at") else " at "
        raise MalformedJSON(f"{error.msg}{joint}{where}") from None
    except RecursionError:
        raise MalformedJSON("arrays or objects are nested too deep") from None
    except ValueError as error:
        # Python refuses integer literals longer than 4300 digits (int_max_str_digits).
        raise MalformedJSON(f"number is too long: {str(error).splitlines()[0]}") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise MalformedJSON("a string holds an unpaired surrogate escape (\\ud800-\\udfff)")
    return value


# --------------------------------------------------------------------------- fast path

# Keywords whose draft-07 meaning equals their 2020-12 meaning, as they appear in our files.
_SAME_MEANING = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "type",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
    }
)
_ANNOTATIONS = frozenset({"description", "title", "$comment", "default"})
_SCHEMA_MAPS = frozenset({"properties"})
_SCHEMA_VALUES = frozenset({"items", "additionalProperties"})


def _to_draft07(schema: dict[str, Any]) -> dict[str, Any]:
    """The contract file rewritten into the draft-07 dialect fastjsonschema understands.

    Local "#/$defs/..." references are inlined (2020-12 applies a $ref's siblings too, so they
    are merged in; a keyword set on both sides is refused), "prefixItems" becomes draft-07's array
    form of "items", and any keyword outside _SAME_MEANING raises, so a later edit of the
    contract cannot silently change what the fast path checks. No $ref survives, so nothing is
    ever fetched.
    """
    defs = schema.get("$defs", {})

    def rewrite(node: Any, depth: int = 0) -> Any:
        if depth > 64:
            raise ValueError("contract $refs nest too deep (a cycle?)")
        if not isinstance(node, dict):
            return node
        node = dict(node)
        ref = node.pop("$ref", None)
        if ref is not None:
            if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
                raise ValueError(f"only local #/$defs/ references are allowed, not {ref!r}")
            target = rewrite(defs[ref.removeprefix("#/$defs/")], depth + 1)
            clash = (set(node) & set(target)) - _ANNOTATIONS
            if clash:
                raise ValueError(f"{ref}: keywords on both sides of the $ref: {sorted(clash)}")
            node = {**target, **node}
        node.pop("$defs", None)
        if "prefixItems" in node:
            prefix = node.pop("prefixItems")
            if "items" in node:
                # 2020-12 "items" next to "prefixItems" is draft-07's "additionalItems".
                raise ValueError("items next to prefixItems: use maxItems instead")
            node["items"] = [rewrite(item, depth + 1) for item in prefix]
        unknown = set(node) - _SAME_MEANING
        if unknown:
            raise ValueError(f"keywords the fast path cannot check exactly: {sorted(unknown)}")
        for key in _SCHEMA_MAPS & set(node):
            node[key] = {name: rewrite(sub, depth + 1) for name, sub in node[key].items()}
        for key in _SCHEMA_VALUES & set(node):
            value = node[key]
            if isinstance(value, list):
                node[key] = [rewrite(sub, depth + 1) for sub in value]
            else:
                node[key] = rewrite(value, depth + 1)
        return node

    result = rewrite(copy.deepcopy(schema))
    result["$schema"] = "http://json-schema.org/draft-07/schema#"
    return result


def _storable_text(value: str) -> bool:
    """Exactly the contract's text pattern ^[^\\u0000\\ud800-\\udfff]*, at C speed.

    Python's strict UTF-8 encoder fails on precisely the surrogate code points U+D800-U+DFFF.
    """
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_TEXT_PATTERN: str = load_schema("find")["$defs"]["text"]["pattern"]
_TEXT_FORMAT = "qazba-storable-text"


def _speed_up(node: Any) -> Any:
    """Rewrite checks into faster ones with the same verdict, for fastjsonschema only.

    A "format" is dropped where a "pattern" sits beside it: every format in the contract is
    backed by a pattern at least as strict as the JSON Schema format checker (the contract's own
    rule, proved by the test table), so the pattern alone gives the verdict, and fastjsonschema's
    built-in format checks, which differ (lower-case 't', '+0500' offsets, upper-case uuids), never
    run. The text pattern, a regex walk over every character, becomes _storable_text.
    """
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "properties" in node:
        node["properties"] = {name: _speed_up(sub) for name, sub in node["properties"].items()}
    for key in _SCHEMA_VALUES & set(node):
        value = node[key]
        node[key] = [_speed_up(v) for v in value] if isinstance(value, list) else _speed_up(value)
    if "format" in node:
        if "pattern" not in node:
            raise ValueError(f"format {node['format']!r} has no pattern beside it")
        del node["format"]
    if node.get("pattern") == _TEXT_PATTERN:
        del node["pattern"]
        node["format"] = _TEXT_FORMAT
    return node


class _NotFinite(Exception):
    """A NaN slipped past the fast path: bounds checks are comparisons, and NaN fails none."""


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type", ())
    return {kind} if isinstance(kind, str) else set(kind)


def _normaliser(schema: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function that turns data the fast path accepted into the normalised dict.

    The result is a new dict in contract member order with absent optional members set to None,
    integral floats in integer members made ints, and NaN refused (JSON has none, but a Python
    caller can pass one, and NaN passes every bound). It is generated as straight-line code
    from the schema, as fastjsonschema does, because a generic loop over the members costs more
    than the validation it follows.
    """
    namespace: dict[str, Any] = {"_NotFinite": _NotFinite}
    functions: list[str] = []

    def generate(node: dict[str, Any]) -> str:
        name = f"_normalise_{len(functions)}"
        functions.append("")
        slot = len(functions) - 1
        members = ", ".join(f"{key!r}: get({key!r})" for key in node["properties"])
        body = ["    get = data.get", f"    out = {{{members}}}"]
        for key, sub in node["properties"].items():
            types = _types(sub)
            item_types = _types(sub["items"]) if isinstance(sub.get("items"), dict) else set()
            value = f"out[{key!r}]"
            if "integer" in types:
                body += [f"    if {value}.__class__ is float:", f"        {value} = int({value})"]
            elif "number" in types:
                body += [f"    if {value} != {value}:", "        raise _NotFinite"]
            elif "object" in types and "properties" in sub:
                inner = generate(sub)
                body += [f"    if {value} is not None:", f"        {value} = {inner}({value})"]
            elif "array" in types and item_types == {"array"}:
                # Points hold numbers, strings and nulls; of these only NaN differs from itself.
                body += [
                    f"    for point in {value}:",
                    "        for item in point:",
                    "            if item != item:",
                    "                raise _NotFinite",
                ]
            elif item_types & {"object", "number", "integer"}:
                raise ValueError(f"{key}: the normaliser does not handle arrays of this shape")
        body.append("    return out")
        functions[slot] = f"def {name}(data):\n" + "\n".join(body)
        return name

    entry = generate(schema)
    exec("\n\n".join(functions), namespace)
    normalise: Callable[[dict[str, Any]], dict[str, Any]] = namespace[entry]
    return normalise


def _refuse_remote(uri: str) -> NoReturn:
    raise ValueError(f"the contract must not fetch {uri}")


_NO_REMOTE = {scheme: _refuse_remote for scheme in ("http", "https", "file", "ftp", "urn", "data")}


@cache
def _fast(name: str) -> Callable[[Any], dict[str, Any] | None]:
    """The compiled fast path of one contract file: normalised data, or None when it rejects."""
    schema = _to_draft07(load_schema(name))
    validate = fastjsonschema.compile(
        _speed_up(schema),
        handlers=_NO_REMOTE,
        formats={_TEXT_FORMAT: _storable_text},
        use_default=False,
        detailed_exceptions=False,
    )
    normalise = _normaliser(schema)
    rejected = (fastjsonschema.JsonSchemaException, _NotFinite)

    def check(data: Any) -> dict[str, Any] | None:
        try:
            validate(data)
            return normalise(data)
        except rejected:
            return None

    return check


# --------------------------------------------------------------------------- public API


_ENVELOPE = RecordEnvelope()


def _type_problem() -> list[FieldProblem]:
    return [{"field": "type", "message": f"must be one of: {', '.join(RECORD_TYPES)}"}]


def _slow_data(type: str, data: Any) -> tuple[dict[str, Any] | None, list[FieldProblem]]:
    try:
        return RECORD_DATA_SCHEMAS[type].load(data), []
    except ValidationError as error:
        return None, problems_from_messages(error.messages, "data")


def validate_record_data(
    type: str, data: object
) -> tuple[dict[str, Any] | None, list[FieldProblem]]:
    """Check the data of a record of the given type against the contract.

    Returns (normalised data, []) or (None, problems). The normalised data is a new dict in
    contract member order with every absent optional member set to None and integral floats in
    integer members turned into ints; lists (track points, photos) are shared with the input, not
    copied. Problems are [{"field": "data.position.lat", "message": ...}], every one at once;
    an unknown type gives one problem on "type". data is expected as json.loads returns it.
    """
    if not isinstance(type, str) or type not in RECORD_TYPES:
        return None, _type_problem()
    normalised = _fast(type)(data)
    if normalised is not None:
        return normalised, []
    return _slow_data(type, data)


def validate_record(record: object) -> tuple[dict[str, Any] | None, list[FieldProblem]]:
    """Check a whole record envelope {type, uuid, base_rev, rev, data} and its data.

    Returns (normalised record, []) or (None, problems), with envelope problems on "uuid",
    "base_rev", ... and data problems on "data.…". When the envelope is broken but its type and
    data are usable, the data is checked too, so a device learns every problem in one answer.
    """
    envelope = _fast("record")(record)
    problems: list[FieldProblem] = []
    if envelope is None:
        try:
            envelope = _ENVELOPE.load(record)  # type: ignore[arg-type]
        except ValidationError as error:
            problems = problems_from_messages(error.messages, "")
    if envelope is not None:
        data, data_problems = validate_record_data(envelope["type"], envelope["data"])
        if data is None:
            return None, data_problems
        return {**envelope, "data": data}, []
    if (
        isinstance(record, dict)
        and isinstance(record.get("type"), str)
        and record["type"] in RECORD_TYPES
        and isinstance(record.get("data"), dict)
    ):
        problems += validate_record_data(record["type"], record["data"])[1]
    return None, problems
