# Which parts of a T3 configuration are secret, and what the plugin keeps of a change.
#
# The plugin never stores a secret: Orthanc's global properties are readable by anyone with Orthanc's REST API or its
# database, and survive restarts. A secret sent with PUT /t3/config is passed to the running sidecar (which applies
# it at once when it is live, e.g. grpc.tokens) and dropped; to keep it across a sidecar restart it belongs in the
# sidecar's own configuration, token file or environment. See SECURITY.md.

# The same keys the sidecar redacts (src/grpc/sidecar-operations.ts SECRET_KEYS).
SECRET_KEYS = frozenset(['password', 'token', 'tokens', 'secret', 'key', 'keyFile'])
REDACTED = '***'


def mask_secrets(value):
    """A copy with every secret value shown as '***', as the sidecar's GetConfig shows them."""
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: (REDACTED if k in SECRET_KEYS and v is not None else mask_secrets(v)) for k, v in value.items()}


def secret_paths(value, prefix=''):
    """Dotted paths of the secret keys present in `value` (e.g. 'grpc.tokens', 'orthanc.password')."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            path = prefix + '.' + k if prefix else k
            if k in SECRET_KEYS:
                found.append(path)
            else:
                found.extend(secret_paths(v, path))
    return found


def without_paths(value, dotted_paths):
    """A copy of a dict without the given dotted paths; objects left empty are removed too."""
    out = dict(value)
    for dotted in dotted_paths:
        _remove(out, dotted.split('.'))
    return out


def _remove(obj, path):
    if not isinstance(obj, dict) or path[0] not in obj:
        return
    if len(path) == 1:
        del obj[path[0]]
        return
    child = obj[path[0]]
    if isinstance(child, dict):
        child = dict(child)
        obj[path[0]] = child
        _remove(child, path[1:])
        if not child:
            del obj[path[0]]


def keepable(partial, restart_required):
    """What of an accepted change the plugin keeps and re-applies: no secret, and nothing the sidecar did not apply."""
    return without_paths(partial, secret_paths(partial) + list(restart_required))
