# Bounded JSON parsing for the plugin's request bodies. Orthanc runs routes on threads with a small C stack, and
# CPython's json module recurses once per nesting level: a 1.2 KB body nested 600 levels deep crashed Orthanc
# (segfault in libpython). The nesting is measured first by one pass over the text, without recursion.

import json

MAX_BODY_BYTES = 1024 * 1024
# The T3 configuration nests about six levels (routing.rules[i].modality[j]); the sidecar refuses more than 32 too.
MAX_DEPTH = 32


class BodyError(ValueError):
    """A request body refused before parsing (too large, too deep, not JSON); the message says why."""


def nesting_depth(text, limit):
    """Deepest nesting of arrays and objects in `text` (brackets inside strings do not count); stops past `limit`."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == '\\':
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in '{[':
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif ch in '}]':
            depth -= 1
    return deepest


def parse_json_body(body, max_bytes=MAX_BODY_BYTES, max_depth=MAX_DEPTH):
    """The parsed JSON of a request body (bytes or str), or BodyError before any recursive code sees a hostile one."""
    if isinstance(body, bytes):
        if len(body) > max_bytes:
            raise BodyError('the body is larger than %d bytes' % max_bytes)
        try:
            body = body.decode('utf-8')
        except UnicodeDecodeError as error:
            raise BodyError('the body is not UTF-8 (%s)' % error)
    elif len(body.encode('utf-8')) > max_bytes:
        raise BodyError('the body is larger than %d bytes' % max_bytes)
    if nesting_depth(body, max_depth) > max_depth:
        raise BodyError('the body is nested more than %d levels deep; a configuration patch needs far fewer' % max_depth)
    try:
        return json.loads(body)
    except ValueError as error:
        raise BodyError('the body is not JSON: %s' % error)
