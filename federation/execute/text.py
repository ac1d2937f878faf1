"""String functions and pattern matching (LIKE, ILIKE, SIMILAR TO, ~)."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from federation.errors import QueryError, UnsupportedError
from federation.execute.expressions import Evaluator, broadcast, flat, handles, node_key, require_text
from federation.execute.types import Datum


def _s(ev: Evaluator, node: exp.Expression | None, fn: str) -> Datum:
    assert node is not None
    return require_text(ev.eval(node), fn)


def _int_const(ev: Evaluator, node: exp.Expression | None, what: str) -> int | None:
    if node is None:
        return None
    v = ev.constant(node, what)
    return None if v is None else int(v)  # type: ignore[call-overload]


@handles(exp.Lower)
def _lower(ev: Evaluator, node: exp.Expression) -> Datum:
    return pc.utf8_lower(_s(ev, node.this, "lower"))


@handles(exp.Upper)
def _upper(ev: Evaluator, node: exp.Expression) -> Datum:
    return pc.utf8_upper(_s(ev, node.this, "upper"))


@handles(exp.Length)
def _length(ev: Evaluator, node: exp.Expression) -> Datum:
    return pc.utf8_length(_s(ev, node.this, "length")).cast(pa.int64())


@handles(exp.Initcap)
def _initcap(ev: Evaluator, node: exp.Expression) -> Datum:
    return pc.utf8_title(_s(ev, node.this, "initcap"))


@handles(exp.Reverse)
def _reverse(ev: Evaluator, node: exp.Expression) -> Datum:
    return pc.utf8_reverse(_s(ev, node.this, "reverse"))


@handles(exp.Trim)
def _trim(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _s(ev, node.this, "trim")
    pos = (node.args.get("position") or "BOTH").upper()
    chars_node = node.expression
    chars = " " if chars_node is None else ev.constant(chars_node, "TRIM's characters")
    if chars is None:
        return pa.scalar(None, pa.string())
    fn = {"LEADING": pc.utf8_ltrim, "TRAILING": pc.utf8_rtrim}.get(pos, pc.utf8_trim)
    return fn(v, characters=str(chars))


def substring(v: Datum, start: int | None, length: int | None) -> Datum:
    """PostgreSQL SUBSTRING: 1-based; a start before 1 still counts toward the length."""
    if start is None:
        return pa.scalar(None, pa.string())
    begin = max(start - 1, 0)
    if length is None:
        return pc.utf8_slice_codeunits(v, start=begin)
    if length < 0:
        raise QueryError("negative substring length not allowed")
    stop = max(start - 1 + length, 0)
    return pc.utf8_slice_codeunits(v, start=begin, stop=max(stop, begin))


@handles(exp.Substring)
def _substring(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _s(ev, node.this, "substring")
    start = _int_const(ev, node.args.get("start"), "SUBSTRING's start")
    length_node = node.args.get("length")
    length = _int_const(ev, length_node, "SUBSTRING's length")
    if length_node is not None and length is None:
        return pa.scalar(None, pa.string())
    return substring(v, 1 if node.args.get("start") is None else start, length)


@handles(exp.Left)
def _left(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _s(ev, node.this, "left")
    n = _int_const(ev, node.expression, "LEFT's length")
    if n is None:
        return pa.scalar(None, pa.string())
    if n >= 0:
        return pc.utf8_slice_codeunits(v, start=0, stop=n)
    return pc.utf8_slice_codeunits(v, start=0, stop=n)  # all but the last |n| characters


@handles(exp.Right)
def _right(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _s(ev, node.this, "right")
    n = _int_const(ev, node.expression, "RIGHT's length")
    if n is None:
        return pa.scalar(None, pa.string())
    if n == 0:
        return pc.utf8_slice_codeunits(v, start=0, stop=0)
    if n > 0:
        return pc.utf8_slice_codeunits(v, start=-n)
    return pc.utf8_slice_codeunits(v, start=-n, stop=2**31 - 1)  # all but the first |n|


@handles(exp.Replace)
def _replace(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _s(ev, node.this, "replace")
    old = ev.constant(node.expression, "REPLACE's pattern")
    new = ev.constant(node.args["replacement"], "REPLACE's replacement")
    if old is None or new is None:
        return pa.scalar(None, pa.string())
    if old == "":
        return v
    return pc.replace_substring(v, pattern=str(old), replacement=str(new))


@handles(exp.Concat)
def _concat(ev: Evaluator, node: exp.Expression) -> Datum:
    from federation.execute.arithmetic import _text

    parts = [_text(ev.eval(e)) for e in node.expressions]
    parts = [p.cast(pa.string()) if pa.types.is_null(p.type) else p for p in parts]
    if not node.args.get("coalesce", True) or node.args.get("safe") is False:
        return pc.binary_join_element_wise(*parts, "")
    # CONCAT ignores NULL arguments
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


@handles(exp.StrPosition)
def _position(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _s(ev, node.this, "position")
    sub = ev.constant(node.args["substr"], "POSITION's substring")
    if node.args.get("position") is not None or node.args.get("occurrence") is not None:
        raise UnsupportedError("POSITION/STRPOS with a start position")
    if sub is None:
        return pa.scalar(None, pa.int64())
    if sub == "":
        return pc.if_else(pc.is_null(v), pa.scalar(None, pa.int64()), pa.scalar(1))
    parts = pc.split_pattern(v, pattern=str(sub), max_splits=1)
    found = pc.greater(pc.list_value_length(parts), 1)
    before = pc.utf8_length(pc.list_element(parts, 0)).cast(pa.int64())
    return pc.if_else(found, pc.add(before, 1), pa.scalar(0, pa.int64()))


@handles(exp.SplitPart)
def _split_part(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _s(ev, node.this, "split_part")
    delim = ev.constant(node.args["delimiter"], "SPLIT_PART's delimiter")
    n = _int_const(ev, node.args["part_index"], "SPLIT_PART's field")
    if delim is None or n is None:
        return pa.scalar(None, pa.string())
    if n == 0:
        raise QueryError("field position must not be zero")
    scalar = isinstance(v, pa.Scalar)
    arr = flat(broadcast(v, 1)) if scalar else flat(v)
    lists = pc.split_pattern(arr, pattern=str(delim)) if delim else pa.array(
        [[x] if x is not None else None for x in arr.to_pylist()], pa.list_(pa.string()))
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = lists.offsets.to_numpy()[:-1].astype(np.int64)
    pos = (n - 1) if n > 0 else lengths + n
    ok = (pos >= 0) & (pos < lengths)
    idx = np.where(ok, starts + np.where(ok, pos, 0), 0)
    values = lists.values
    picked = values.take(pa.array(idx)) if len(values) else pa.nulls(len(arr), pa.string())
    out = pc.if_else(pa.array(ok), picked, pa.scalar(""))
    out = pc.if_else(pc.is_null(arr), pa.scalar(None, pa.string()), out)
    return out[0] if scalar else out


def _regex_flags(flags: str | None) -> tuple[str, bool]:
    flags = flags or ""
    prefix = "(?i)" if "i" in flags else ""
    return prefix, "g" in flags


@handles(exp.RegexpReplace)
def _regexp_replace(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _s(ev, node.this, "regexp_replace")
    pattern = ev.constant(node.expression, "REGEXP_REPLACE's pattern")
    repl = ev.constant(node.args["replacement"], "REGEXP_REPLACE's replacement")
    mods = node.args.get("modifiers")
    flags = ev.constant(mods, "REGEXP_REPLACE's flags") if mods is not None else None
    if node.args.get("position") is not None or node.args.get("occurrence") is not None:
        raise UnsupportedError("REGEXP_REPLACE with a start position or occurrence")
    if pattern is None or repl is None:
        return pa.scalar(None, pa.string())
    prefix, glob = _regex_flags(str(flags) if flags else None)
    return pc.replace_substring_regex(v, pattern=prefix + str(pattern), replacement=str(repl),
                                      max_replacements=None if glob else 1)


@handles(exp.StartsWith)
def _starts_with(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _s(ev, node.this, "starts_with")
    prefix = ev.constant(node.expression, "STARTS_WITH's prefix")
    if prefix is None:
        return pa.scalar(None, pa.bool_())
    return pc.starts_with(v, pattern=str(prefix))


@handles(exp.Pad)
def _pad(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _s(ev, node.this, "lpad")
    width = _int_const(ev, node.expression, "the pad length")
    fill = node.args.get("fill_pattern")
    ch = " " if fill is None else ev.constant(fill, "the pad string")
    if width is None or ch is None:
        return pa.scalar(None, pa.string())
    if len(str(ch)) != 1:
        raise UnsupportedError("LPAD/RPAD with a multi-character fill")
    left = bool(node.args.get("is_left"))
    padded = (pc.utf8_lpad if left else pc.utf8_rpad)(v, width=width, padding=str(ch))
    return pc.utf8_slice_codeunits(padded, start=0, stop=width)  # PostgreSQL truncates to the length


# --- pattern matching ---------------------------------------------------------------------------

def like_to_regex(pattern: str, escape: str | None) -> str:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if escape and c == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return "^(?s:" + "".join(out) + ")$"


def like(v: Datum, pattern: object, escape: str | None, ignore_case: bool) -> Datum:
    if pattern is None:
        return pa.scalar(None, pa.bool_())
    v = require_text(v, "like")
    regex = like_to_regex(str(pattern), "\\" if escape is None else escape)
    return pc.match_substring_regex(v, pattern=regex, ignore_case=ignore_case)


def _like(ev: Evaluator, node: exp.Expression, escape: str | None) -> Datum:
    rhs = node.expression
    if isinstance(rhs, (exp.Any, exp.All)):
        raise UnsupportedError("LIKE ANY/ALL")
    pattern = ev.constant(rhs, "a LIKE pattern")
    out = like(ev.eval(node.this), pattern, escape, isinstance(node, exp.ILike))
    return pc.invert(out) if node.args.get("negate") else out


@handles(exp.Like, exp.ILike)
def _like_plain(ev: Evaluator, node: exp.Expression) -> Datum:
    return _like(ev, node, None)


@handles(exp.Escape)
def _escape(ev: Evaluator, node: exp.Expression) -> Datum:
    esc = ev.constant(node.expression, "the ESCAPE character")
    inner = node.this
    if not isinstance(inner, (exp.Like, exp.ILike)):
        raise UnsupportedError(f"ESCAPE on {type(inner).__name__}")
    if esc is not None and len(str(esc)) > 1:
        raise QueryError("invalid escape string", hint="Escape string must be empty or one character.")
    return _like(ev, inner, str(esc) if esc else "")


@handles(exp.SimilarTo)
def _similar(ev: Evaluator, node: exp.Expression) -> Datum:
    pattern = ev.constant(node.expression, "a SIMILAR TO pattern")
    if pattern is None:
        return pa.scalar(None, pa.bool_())
    body = []
    for i, c in enumerate(str(pattern)):
        prev = str(pattern)[i - 1] if i else ""
        if prev == "\\":
            body.append(c)
        elif c == "%":
            body.append(".*")
        elif c == "_":
            body.append(".")
        elif c == ".":
            body.append("\\.")
        else:
            body.append(c)
    out = pc.match_substring_regex(require_text(ev.eval(node.this), "similar"), pattern="^(?s:" + "".join(body) + ")$")
    return pc.invert(out) if node.args.get("negate") else out


@handles(exp.RegexpLike, exp.RegexpILike)
def _regexp_like(ev: Evaluator, node: exp.Expression) -> Datum:
    pattern = ev.constant(node.expression, "a regular expression")
    if pattern is None:
        return pa.scalar(None, pa.bool_())
    flag = node.args.get("flag")
    if flag is not None:
        raise UnsupportedError("regular expression flags")
    return pc.match_substring_regex(require_text(ev.eval(node.this), "~"), pattern=str(pattern),
                                    ignore_case=isinstance(node, exp.RegexpILike))


_ANON_TEXT = {"btrim": pc.utf8_trim_whitespace}


@handles(exp.Anonymous)
def _anonymous(ev: Evaluator, node: exp.Expression) -> Datum:
    name = str(node.this).lower()
    args = node.expressions
    if name == "strpos" and len(args) == 2:
        return _position(ev, exp.StrPosition(this=args[0], substr=args[1]))
    if name in ("char_length", "character_length") and len(args) == 1:
        return _length(ev, exp.Length(this=args[0]))
    if name == "btrim" and len(args) == 1:
        return _trim(ev, exp.Trim(this=args[0]))
    if name == "age" and len(args) in (1, 2):
        from federation.execute.temporal import age

        if len(args) == 2:
            return age(ev.eval(args[0]), ev.eval(args[1]))  # type: ignore[return-value]
        midnight = pa.scalar(ev.ctx.now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None), pa.timestamp("us"))
        return age(midnight, ev.eval(args[0]))  # type: ignore[return-value]
    if name == "now" and not args:
        from federation.execute.temporal import _now

        return _now(ev, exp.CurrentTimestamp())
    raise UnsupportedError(f"function {name}() in the Arrow executor ({node_key(node)[:60]})")


@handles(exp.MD5)
def _md5(ev: Evaluator, node: exp.Expression) -> Datum:
    """PostgreSQL's md5(text): lower-case hex of the UTF-8 bytes; NULL stays NULL.

    Arrow has no hash kernel: hash each distinct value once in Python."""
    import hashlib

    v = require_text(ev.eval(node.this), "md5")
    if isinstance(v, pa.Scalar):
        return pa.scalar(None if not v.is_valid else hashlib.md5(v.as_py().encode()).hexdigest(), pa.string())
    encoded = pc.dictionary_encode(flat(v))
    digests = pa.array([hashlib.md5(s.encode()).hexdigest() for s in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(digests, encoded.indices)
