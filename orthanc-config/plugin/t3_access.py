# Who may do what on the plugin's /t3/* routes, and the checks that keep another web site from acting for a user.
#
# Orthanc 1.10.1 authenticates users (HTTP Basic, RegisteredUsers) but has no roles, so the plugin adds two:
#   reader         every user Orthanc let in: the worklist, reports, /t3/status, GET /t3/config
#   administrator  the Orthanc user names in T3.worklist.administrators: PUT /t3/config, re-runs, GET /t3/audit
# T3.worklist.administrators null (or missing) means NO administrator: changing triage rules or re-running studies is
# a clinical act, and a list that was never written must not hand it to every account that can read images (a
# modality's or a viewer's login included). The plugin says so in Orthanc's log at start, and every refusal names the
# setting. With Orthanc's authentication off no request carries a user: reading stays as open as Orthanc itself is,
# and every administrative route is refused.
#
# State-changing requests (PUT, POST, DELETE) must also come from a page of this Orthanc, not from another web site
# in a browser that is logged in to it (cross-site request forgery): they need a JSON body (Content-Type
# application/json) or an X-Requested-With header, which a cross-site HTML form cannot send and a cross-site script
# can only send after a CORS preflight that Orthanc does not grant; and an Origin header, when the browser sends one,
# must name this server.
#
# Pure Python (no orthanc module), so it is tested without Orthanc.

import base64

READER = 'reader'
ADMINISTRATOR = 'administrator'
STATE_CHANGING = ('PUT', 'POST', 'DELETE', 'PATCH')


class Refusal(object):
    """Why a request is refused: the HTTP status and a reason for the caller (and the audit)."""

    def __init__(self, status, reason, kind):
        self.status = status
        self.reason = reason
        self.kind = kind  # 'role' | 'csrf'


def header(request, name):
    """A request header by name, whatever its case (orthanc-python passes them as received, lower-cased in 1.10.1)."""
    headers = request.get('headers') or {}
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def user_of(request):
    """The Orthanc user name of an HTTP Basic request (Orthanc checked the password before calling the plugin)."""
    value = header(request, 'authorization') or ''
    if not value.lower().startswith('basic '):
        return None
    try:
        return base64.b64decode(value[6:].strip()).decode('utf-8').split(':', 1)[0] or None
    except Exception:
        return None


def administrators(section):
    """The administrators' Orthanc user names from the T3 section; None when the list is not configured."""
    worklist = section.get('worklist') if isinstance(section, dict) else None
    admins = worklist.get('administrators') if isinstance(worklist, dict) else None
    if not isinstance(admins, list):
        return None
    return [a for a in admins if isinstance(a, str) and a]


def is_administrator(section, request):
    admins = administrators(section)
    user = user_of(request)
    return admins is not None and user is not None and user in admins


def role_refusal(section, request, role):
    """None when the request's user has `role`, else a Refusal saying why (403)."""
    if role == READER:
        return None  # Orthanc let the request in: with its authentication on, it checked the user already
    user = user_of(request)
    admins = administrators(section)
    if user is None:
        return Refusal(403, 'this needs an administrator (T3.worklist.administrators), and the request carries no '
                            'Orthanc user: turn Orthanc\'s authentication on (AuthenticationEnabled)', 'role')
    if admins is None:
        return Refusal(403, 'no administrator is configured: T3.worklist.administrators is not set, so no Orthanc user '
                            'may change settings, re-run studies or read the audit (list the user names there and '
                            'restart Orthanc)', 'role')
    if user not in admins:
        return Refusal(403, 'Orthanc user "%s" is not an administrator (T3.worklist.administrators): it may read the '
                            'worklist, reports and status, not change settings, re-run studies or read the audit' % user,
                       'role')
    return None


def _host_of_origin(origin):
    # "scheme://host[:port]" → "host[:port]" (lower-case); None for "null" and anything unreadable.
    if not origin or '://' not in origin:
        return None
    rest = origin.split('://', 1)[1]
    return rest.split('/', 1)[0].lower() or None


def _default_port_stripped(host, scheme):
    if scheme == 'http' and host.endswith(':80'):
        return host[:-3]
    if scheme == 'https' and host.endswith(':443'):
        return host[:-4]
    return host


def csrf_refusal(request):
    """None when a state-changing request is safe to act on, else a Refusal (403) saying why."""
    method = (request.get('method') or '').upper()
    if method not in STATE_CHANGING:
        return None
    origin = header(request, 'origin')
    if origin is not None:
        origin_host = _host_of_origin(origin)
        scheme = origin.split('://', 1)[0].lower() if '://' in origin else ''
        # Behind a reverse proxy the browser's host is the proxy's, which it passes on as X-Forwarded-Host.
        own = [h.strip().lower() for h in (header(request, 'x-forwarded-host') or '').split(',') if h.strip()]
        if header(request, 'host'):
            own.append(header(request, 'host').strip().lower())
        own = [_default_port_stripped(h, scheme) for h in own]
        if origin_host is None or _default_port_stripped(origin_host, scheme) not in own:
            return Refusal(403, 'cross-origin request refused: Origin "%s" is not this Orthanc' % origin, 'csrf')
    if (header(request, 'sec-fetch-site') or '').lower() == 'cross-site':
        return Refusal(403, 'cross-site request refused (Sec-Fetch-Site: cross-site)', 'csrf')
    content_type = (header(request, 'content-type') or '').split(';', 1)[0].strip().lower()
    if content_type != 'application/json' and header(request, 'x-requested-with') is None:
        return Refusal(403, 'a request that changes something must send a JSON body (Content-Type: application/json) '
                            'or an X-Requested-With header; an HTML form from another site can send neither', 'csrf')
    return None
