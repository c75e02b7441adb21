# orthanc-t3 plugin for Orthanc 1.10.1 (orthanc-python 4.0, Debian's Python 3.11).
#
# Adds to Orthanc's own REST API (behind Orthanc's authentication; roles and cross-site checks in t3_access.py):
#   GET  /t3/config                  (every user) effective sidecar configuration, secrets shown as "***", where each
#                                    value comes from (`sources`: default, file, environment, command line, live) and
#                                    the live changes (`overrides`)
#   PUT  /t3/config                  (administrators) partial configuration, validated by the sidecar
#                                    (AdminService.UpdateConfig) and applied at once, or not at all: 200 when all of
#                                    it took effect, 202 when some keys were applied and others wait for a restart
#                                    (listed), 4xx when nothing changed. The sidecar keeps the applied, non-secret
#                                    part beside its checkpoint and reads it at start, before it triages anything
#   GET  /t3/status                  (every user) the sidecar's status (AdminService.GetStatus)
#   POST /t3/studies/{id}/analyze    (administrators) re-run the study now in the stat lane (AnalyzeStudy, force)
#   GET  /t3/audit                   (administrators) the audit trail, newest first (t3_audit.py)
#   GET  /t3/feedback.csv            (administrators) the radiologists' verdicts with model, λ_B and divergence
#                                    (t3_feedback_csv.py), read from Orthanc; audited
#   GET  /t3/drift                   (every user) the drift monitor per image source (AdminService.GetDrift), for the
#                                    worklist's status panel
# and an Orthanc Explorer box on the study page with the triage state and a re-run button.
#
# Every settings change, re-run, token rotation and refused attempt is audited (t3_audit.py) before the answer goes
# out. The sidecar does not need this plugin; the plugin answers 503 while the sidecar is down, 504 when it is too
# slow. It reaches the sidecar over TLS or mutual TLS when configured (t3_sidecar_channel.py). Request bodies are
# measured before parsing (t3_json_limits.py). Helpers live in sibling t3_*.py modules: orthanc-python puts this
# folder first on sys.path. Nothing here may raise at import time: any exception while Orthanc loads the script makes
# Orthanc exit.

import json
import os
import threading
import time

import orthanc

import t3_access
import t3_audit
import t3_feedback_csv
from t3_config_secrets import mask_secrets, secret_paths, without_paths
from t3_json_limits import BodyError, parse_json_body
from t3_sidecar_channel import SettingsError, SidecarSettings

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
# Global property where versions before 0.x kept the runtime overrides (the sidecar keeps them now, beside its
# checkpoint): read once at start, handed to the sidecar, then cleared.
OVERRIDES_PROPERTY = 4750
MIGRATE_RETRY_S = 10.0
AUDIT_READ_LIMIT = 1000

try:
    import grpc
    from google.protobuf import json_format
    from t3.v1 import admin_pb2, admin_pb2_grpc, common_pb2, triage_pb2, triage_pb2_grpc
    IMPORT_ERROR = None
except Exception as error:  # missing python3-grpcio or stubs not generated: keep Orthanc up, answer 503
    IMPORT_ERROR = 'gRPC stubs unavailable (%s: %s); run orthanc-config/generate-stubs.sh' % (type(error).__name__, error)


def _section():
    try:
        config = json.loads(orthanc.GetConfiguration())
    except Exception:
        return {}
    section = config.get('T3', {})
    return section if isinstance(section, dict) else {}


def _audit_path():
    """T3_PLUGIN_AUDIT_FILE, T3.plugin.auditFile, else t3-audit.jsonl in Orthanc's storage folder (backed up with it,
    writable by Orthanc's user, and on the host whose users the audit names)."""
    plugin = _section().get('plugin')
    configured = os.environ.get('T3_PLUGIN_AUDIT_FILE') or (plugin.get('auditFile') if isinstance(plugin, dict) else None)
    if configured:
        return configured if os.path.isabs(configured) else os.path.join(PLUGIN_DIR, configured)
    try:
        storage = json.loads(orthanc.GetConfiguration()).get('StorageDirectory') or 'OrthancStorage'
    except Exception:
        storage = 'OrthancStorage'
    # Orthanc resolves a relative StorageDirectory against its working directory, as os.path.abspath does here.
    return os.path.join(os.path.abspath(storage), 't3-audit.jsonl')


# Read once: Orthanc's configuration (the administrators among it) changes only with an Orthanc restart.
SECTION = _section()
SETTINGS = SidecarSettings(SECTION.get('plugin'), os.environ, PLUGIN_DIR)
AUDIT = t3_audit.AuditLog(_audit_path())
SIDECAR_ADDRESS = SETTINGS.address
DEADLINE_S = SETTINGS.deadline_s
# A configuration update may load new model bundles (seconds, more on a busy machine): it gets a longer deadline than
# the plain calls, so a slow but successful reload is not reported as a 504 while the sidecar goes on and applies it.
CONFIG_UPDATE_DEADLINE_S = max(DEADLINE_S, 60)


class SidecarClient(object):
    """One channel to the sidecar, re-created after UNAVAILABLE (grpcio 1.51 channels recover slowly)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._channel = None

    def _stubs(self):
        with self._lock:
            if self._channel is None:
                self._channel = SETTINGS.open_channel(grpc)
            return admin_pb2_grpc.AdminServiceStub(self._channel), triage_pb2_grpc.TriageServiceStub(self._channel)

    def reset(self):
        # Do not close the old channel: calls from other threads may still be using it.
        with self._lock:
            self._channel = None

    def call(self, service, method, request, deadline=None, actor=None):
        admin, triage = self._stubs()
        stub = admin if service == 'admin' else triage
        token = SETTINGS.bearer_token()
        metadata = [('authorization', 'Bearer %s' % token)] if token else []
        # Who asked, for the sidecar's own log line of a change (the token only says "the plugin"). ASCII only:
        # gRPC metadata values are; a user name outside ASCII is sent percent-encoded.
        if actor and actor.get('user'):
            metadata.append(('x-t3-orthanc-user', _ascii(actor['user'])))
        if actor and actor.get('address'):
            metadata.append(('x-t3-remote-address', _ascii(actor['address'])))
        try:
            return getattr(stub, method)(request, timeout=deadline or DEADLINE_S, metadata=metadata)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                self.reset()
            raise


def _ascii(text):
    return ''.join(c if 32 <= ord(c) < 127 and c != '%' else ''.join('%%%02X' % b for b in c.encode('utf-8')) for c in text)


CLIENT = SidecarClient() if IMPORT_ERROR is None else None

HTTP_FOR_GRPC = {
    'INVALID_ARGUMENT': 400,
    'NOT_FOUND': 404,
    'FAILED_PRECONDITION': 409,
    'UNAUTHENTICATED': 502,
    'PERMISSION_DENIED': 502,
    'RESOURCE_EXHAUSTED': 429,
    'UNAVAILABLE': 503,
    'DEADLINE_EXCEEDED': 504,
}


def _send_json(output, status, body):
    text = json.dumps(body, indent=2, sort_keys=True)
    if status == 200:
        output.AnswerBuffer(text, 'application/json')
    else:
        # orthanc-python 4.0: SendHttpStatus(code, str body, byte length); no Content-Type can be set here.
        output.SendHttpStatus(status, text, len(text.encode('utf-8')))


def _fail(output, status, message, **extra):
    body = {'error': message}
    body.update(extra)
    _send_json(output, status, body)


def _guarded(handler):
    """Maps sidecar failures to HTTP answers; Orthanc itself never sees an exception from a route."""

    def wrapped(output, uri, **request):
        if IMPORT_ERROR is not None:
            _fail(output, 503, IMPORT_ERROR)
            return
        try:
            handler(output, uri, **request)
        except SettingsError as error:
            _fail(output, 503, str(error))
        except grpc.RpcError as error:
            name = error.code().name if error.code() is not None else 'UNKNOWN'
            status = HTTP_FOR_GRPC.get(name, 502)
            detail = error.details() or name
            if name == 'UNAVAILABLE':
                detail = 'the orthanc-t3 sidecar is not reachable at %s (%s)' % (SIDECAR_ADDRESS, detail)
            _fail(output, status, detail, grpcStatus=name)
        except Exception as error:
            _fail(output, 500, '%s: %s' % (type(error).__name__, error))

    return wrapped


def _read_legacy_overrides():
    try:
        text = orthanc.GetGlobalProperty(OVERRIDES_PROPERTY, '')
        value = parse_json_body(text) if text else {}
        return value if isinstance(value, dict) else {}
    except Exception:
        return {}


def _message_dict(message):
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


# ---- who is asking, from where, and the audit

# The client's address is known to Orthanc's HTTP filter, not to the REST callback (orthanc-python 4.0 passes no
# address there). The filter runs on the same HTTP thread just before the callback, so the address is kept by thread
# id. Not in a threading.local: orthanc-python gives each callback a fresh Python thread state, which empties it.
_ADDRESSES = {}
_ADDRESSES_LOCK = threading.Lock()


def _remember_address(uri, **request):
    try:
        with _ADDRESSES_LOCK:
            if len(_ADDRESSES) > 4096:
                _ADDRESSES.clear()  # Orthanc's HTTP threads are few; this only bounds a pathological case
            _ADDRESSES[threading.get_ident()] = request.get('ip') if uri.startswith('/t3/') else None
    except Exception:
        pass
    return True  # this filter never refuses: Orthanc's authentication and the routes below decide


def _actor(request):
    with _ADDRESSES_LOCK:
        address = _ADDRESSES.get(threading.get_ident())
    return {'user': t3_access.user_of(request), 'address': address}


def _audit(record):
    """Writes an audit record durably and to Orthanc's log. False when the file cannot be written (logged as an
    error: the change itself is already done or refused by then)."""
    orthanc.LogWarning('orthanc-t3 audit: %s' % json.dumps(record, sort_keys=True))
    try:
        AUDIT.append(record)
        return True
    except Exception as error:
        orthanc.LogError('orthanc-t3 plugin: the audit trail %s cannot be written (%s: %s)' % (AUDIT.path, type(error).__name__, error))
        return False


def _audit_writable():
    """Checked before a change: a change that could not be audited is not made."""
    try:
        folder = os.path.dirname(AUDIT.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        fd = os.open(AUDIT.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        os.close(fd)
        return True
    except OSError:
        return False


def _admit(output, request, role, target, attempted):
    """True when the request may go on; else answers 403 with the reason and audits the refused attempt."""
    refusal = t3_access.csrf_refusal(request) or t3_access.role_refusal(SECTION, request, role)
    if refusal is None:
        return True
    actor = _actor(request)
    _audit(t3_audit.entry('access-refused', t3_audit.MINOR_FAILURE, refusal.reason, actor['user'], actor['address'],
                          target, extra={'attempted': attempted, 'refusal': refusal.kind}))
    _fail(output, refusal.status, refusal.reason, refusal=refusal.kind)
    return False


def _get_config():
    """(effective configuration, {'values': {dotted key: source}, 'live': live changes}) from the sidecar."""
    response = CLIENT.call('admin', 'GetConfig', admin_pb2.GetConfigRequest())
    provenance = {}
    # sources_json came with this version of the API; an older sidecar leaves it out.
    text = getattr(response, 'sources_json', '')
    if text:
        try:
            provenance = json.loads(text)
        except ValueError:
            provenance = {}
    return json.loads(response.json), provenance


def _config_body(effective, provenance):
    return {'effective': effective, 'sources': provenance.get('values') or {}, 'overrides': mask_secrets(provenance.get('live') or {})}


def _dotted_keys(value, prefix=''):
    if isinstance(value, dict) and value:
        out = []
        for key, child in value.items():
            out.extend(_dotted_keys(child, prefix + '.' + key if prefix else key))
        return out
    return [prefix] if prefix else []


@_guarded
def config_route(output, uri, **request):
    method = request['method']
    target = {'type': 'configuration', 'id': 'T3'}
    if method == 'GET':
        if not _admit(output, request, t3_access.READER, target, 'GET /t3/config'):
            return
        effective, provenance = _get_config()
        _send_json(output, 200, _config_body(effective, provenance))
    elif method == 'PUT':
        if not _admit(output, request, t3_access.ADMINISTRATOR, target, 'PUT /t3/config'):
            return
        _put_config(output, request, target)
    else:
        output.SendMethodNotAllowed('GET,PUT')


def _put_config(output, request, target):
    actor = _actor(request)
    try:
        partial = parse_json_body(request.get('body') or b'')
    except BodyError as error:
        _fail(output, 400, str(error))
        return
    if not isinstance(partial, dict):
        _fail(output, 400, 'the body must be a JSON object (a partial T3 configuration)')
        return
    if not _audit_writable():
        _fail(output, 503, 'nothing changed: the audit trail %s cannot be written, and a change must be audited' % AUDIT.path)
        return
    asked = _dotted_keys(mask_secrets(partial))
    before, _ = _get_config()
    # The sidecar validates, tries and commits the whole change, or refuses it and changes nothing; it keeps the
    # applied, non-secret part beside its checkpoint and reads it at start.
    try:
        response = CLIENT.call('admin', 'UpdateConfig', admin_pb2.UpdateConfigRequest(json=json.dumps(partial), dry_run=False),
                               deadline=CONFIG_UPDATE_DEADLINE_S, actor=actor)
    except grpc.RpcError as error:
        name = error.code().name if error.code() is not None else 'UNKNOWN'
        _audit(t3_audit.entry('settings-change', t3_audit.MINOR_FAILURE, 'refused by the sidecar, nothing changed (%s: %s)'
                              % (name, error.details() or name), actor['user'], actor['address'], target,
                              changes=[{'key': k} for k in asked]))
        raise
    applied_keys = list(response.changed_keys)
    restart_required = list(response.restart_required)
    after = json.loads(response.json)
    effective, provenance = _get_config()
    token_keys = [k for k in applied_keys if k == 'grpc.tokens']
    setting_keys = [k for k in applied_keys if k != 'grpc.tokens']
    diff = t3_audit.config_diff(mask_secrets(before), mask_secrets(after), setting_keys)
    extra = {'restartRequired': restart_required, 'notKept': secret_paths(partial), 'asked': asked}
    if restart_required and not applied_keys:
        _audit(t3_audit.entry('settings-change', t3_audit.MINOR_FAILURE, 'nothing changed: restart required for %s'
                              % ', '.join(restart_required), actor['user'], actor['address'], target, changes=diff, extra=extra))
    elif setting_keys or not token_keys:
        _audit(t3_audit.entry('settings-change', t3_audit.SUCCESS, 'partly applied: restart required for %s'
                              % ', '.join(restart_required) if restart_required else 'applied',
                              actor['user'], actor['address'], target, changes=diff, extra=extra))
    if token_keys:
        _audit(t3_audit.entry('token-rotation', t3_audit.SUCCESS, 'gRPC token list replaced', actor['user'], actor['address'],
                              {'type': 'configuration', 'id': 'T3.grpc.tokens'},
                              changes=t3_audit.token_rotation(before, after)))
    body = {
        'changedKeys': applied_keys,
        'restartRequired': restart_required,
        # Secrets were passed to the running sidecar but are kept nowhere: see SECURITY.md.
        'notKept': secret_paths(partial),
    }
    body.update(_config_body(effective, provenance))
    if restart_required and not applied_keys:
        # Nothing is in effect and nothing was kept: answered as a refusal, so no one takes it for a change.
        body.update(applied=False, complete=False, error=(
            'nothing changed: %s take effect only from the configuration files at the next start (the sidecar\'s T3 '
            'file for its keys, Orthanc\'s configuration for plugin.* and worklist.*)' % ', '.join(restart_required)))
        _send_json(output, 409, body)
    elif restart_required:
        body.update(applied=True, complete=False, message=(
            'applied now: %s; NOT applied, waiting for a restart with them in the configuration files: %s'
            % (', '.join(applied_keys), ', '.join(restart_required))))
        _send_json(output, 202, body)
    else:
        body.update(applied=True, complete=True)
        _send_json(output, 200, body)


@_guarded
def status_route(output, uri, **request):
    if request['method'] != 'GET':
        output.SendMethodNotAllowed('GET')
        return
    if not _admit(output, request, t3_access.READER, {'type': 'status', 'id': 'sidecar'}, 'GET /t3/status'):
        return
    response = CLIENT.call('admin', 'GetStatus', admin_pb2.GetStatusRequest())
    body = _message_dict(response)
    body['sidecarAddress'] = SIDECAR_ADDRESS
    _send_json(output, 200, body)


def rerun_study(output, request, study_id, attempted):
    """The re-run of POST /t3/studies/{id}/analyze and of the worklist's button: checked, audited, answered."""
    target = {'type': 'study', 'id': study_id}
    if not _admit(output, request, t3_access.ADMINISTRATOR, target, attempted):
        return
    if IMPORT_ERROR is not None:
        _fail(output, 503, IMPORT_ERROR)
        return
    if not _audit_writable():
        _fail(output, 503, 'nothing done: the audit trail %s cannot be written, and a re-run must be audited' % AUDIT.path)
        return
    actor = _actor(request)
    analyze = triage_pb2.AnalyzeStudyRequest(
        study=common_pb2.StudyRef(orthanc_study_id=study_id),
        priority=common_pb2.RUN_PRIORITY_STAT,
        write_back=True,
        return_immediately=True,
        # An explicit re-run analyses again with the current rules and model, and writes an SR that supersedes the
        # previous one; without it a study already analysed with the same inputs would answer its stored result.
        force=True,
    )
    try:
        response = CLIENT.call('triage', 'AnalyzeStudy', analyze, actor=actor)
    except Exception as error:
        name = error.code().name if isinstance(error, grpc.RpcError) and error.code() is not None else type(error).__name__
        _audit(t3_audit.entry('study-rerun', t3_audit.MINOR_FAILURE, 'refused (%s)' % name, actor['user'], actor['address'],
                              target, extra={'attempted': attempted}))
        raise
    _audit(t3_audit.entry('study-rerun', t3_audit.SUCCESS, 'queued in the stat lane', actor['user'], actor['address'],
                          target, extra={'attempted': attempted}))
    _send_json(output, 200, _message_dict(response))


@_guarded
def worklist_rerun(output, uri, **request):
    """The worklist's re-run button (t3_worklist.py, POST /t3/worklist/rerun/{id}): the same checks and audit."""
    rerun_study(output, request, request['groups'][0], 'POST /t3/worklist/rerun/{id}')


@_guarded
def analyze_route(output, uri, **request):
    if request['method'] != 'POST':
        output.SendMethodNotAllowed('POST')
        return
    study_id = request['groups'][0]
    rerun_study(output, request, study_id, 'POST /t3/studies/{id}/analyze')


def audit_route(output, uri, **request):
    if request['method'] != 'GET':
        output.SendMethodNotAllowed('GET')
        return
    if not _admit(output, request, t3_access.ADMINISTRATOR, {'type': 'audit', 'id': 'T3'}, 'GET /t3/audit'):
        return
    try:
        limit = int((request.get('get') or {}).get('limit') or AUDIT_READ_LIMIT)
    except ValueError:
        limit = AUDIT_READ_LIMIT
    try:
        entries = AUDIT.read(max(1, min(limit, 100000)))
    except Exception as error:
        _fail(output, 500, 'the audit trail cannot be read: %s: %s' % (type(error).__name__, error))
        return
    _send_json(output, 200, {'entries': entries, 'maxBytes': AUDIT.max_bytes})


def feedback_csv_route(output, uri, **request):
    if request['method'] != 'GET':
        output.SendMethodNotAllowed('GET')
        return
    # Who judged what is personal data of the readers: administrators only, and audited.
    target = {'type': 'feedback', 'id': 'T3'}
    if not _admit(output, request, t3_access.ADMINISTRATOR, target, 'GET /t3/feedback.csv'):
        return
    try:
        text = t3_feedback_csv.feedback_csv(orthanc.RestApiGet)
    except Exception as error:
        _fail(output, 500, 'the feedback cannot be read from Orthanc: %s: %s' % (type(error).__name__, error))
        return
    actor = _actor(request)
    _audit(t3_audit.entry('feedback-exported', t3_audit.SUCCESS, 'feedback exported as CSV', actor['user'], actor['address'], target))
    output.AnswerBuffer(text, 'text/csv; charset=utf-8')


@_guarded
def drift_route(output, uri, **request):
    if request['method'] != 'GET':
        output.SendMethodNotAllowed('GET')
        return
    if not _admit(output, request, t3_access.READER, {'type': 'drift', 'id': 'sidecar'}, 'GET /t3/drift'):
        return
    response = CLIENT.call('admin', 'GetDrift', admin_pb2.GetDriftRequest())
    _send_json(output, 200, json_format.MessageToDict(response, preserving_proto_field_name=True,
                                                      including_default_value_fields=True))


def _sidecar_health(deadline_s):
    """For the worklist's banner (t3_worklist.py): {'state': 'ready' | 'not-ready' | 'unreachable' | 'unknown',
    'reason': text}, from AdminService.GetStatus with a short deadline. Never raises."""
    if IMPORT_ERROR is not None:
        return {'state': 'unreachable', 'reason': IMPORT_ERROR}
    try:
        response = CLIENT.call('admin', 'GetStatus', admin_pb2.GetStatusRequest(), deadline=min(DEADLINE_S, deadline_s))
    except SettingsError as error:
        return {'state': 'unreachable', 'reason': str(error)}
    except grpc.RpcError as error:
        name = error.code().name if error.code() is not None else 'UNKNOWN'
        if name == 'UNAVAILABLE':
            return {'state': 'unreachable', 'reason': 'no answer from the orthanc-t3 sidecar at %s' % SIDECAR_ADDRESS}
        if name == 'DEADLINE_EXCEEDED':
            return {'state': 'unreachable', 'reason': 'the orthanc-t3 sidecar at %s did not answer within %g s'
                    % (SIDECAR_ADDRESS, min(DEADLINE_S, deadline_s))}
        # A refused token or the like: the sidecar may be working, but this plugin cannot tell.
        return {'state': 'unknown', 'reason': 'the sidecar refused the status call (%s: %s)' % (name, error.details() or name)}
    except Exception as error:
        return {'state': 'unknown', 'reason': '%s: %s' % (type(error).__name__, error)}
    reasons = []
    # GetStatus has no "accepting" field in this version of the API; read it when a newer sidecar sends one.
    if getattr(response, 'accepting', True) is False:
        reasons.append('it is not accepting work (starting or shutting down)')
    if len(response.models) == 0:
        reasons.append('no model is loaded')
    if response.HasField('follower'):
        if not response.follower.connected:
            # connected is false too when the sidecar runs without the change feed: then nothing triages new studies.
            reasons.append('it cannot use Orthanc (%s)' % response.follower.last_error if response.follower.last_error
                           else 'it is not following Orthanc\'s new studies')
        if response.follower.paused:
            reasons.append('its queues are full, new studies wait')
    if reasons:
        return {'state': 'not-ready', 'reason': '; '.join(reasons)}
    return {'state': 'ready', 'reason': ''}


def _migrate_legacy_overrides():
    """Hands the overrides an earlier version kept in global property 4750 to the sidecar once (it keeps them now,
    beside its checkpoint, and reads them at start), then clears the property. Waits while the sidecar is down; a
    refusal is logged and the property cleared too: the sidecar's own configuration stands, and nothing is re-sent
    behind the administrators' backs every few seconds any more."""
    overrides = _read_legacy_overrides()
    if not overrides or CLIENT is None:
        return
    # Versions before that one could have stored a secret; none is sent on from here.
    kept = without_paths(overrides, secret_paths(overrides))
    while True:
        try:
            CLIENT.call('admin', 'UpdateConfig', admin_pb2.UpdateConfigRequest(json=json.dumps(kept), dry_run=False),
                        deadline=CONFIG_UPDATE_DEADLINE_S, actor={'user': 'orthanc-t3 plugin (migration)'})
            orthanc.LogWarning('orthanc-t3 plugin: handed the configuration overrides kept in Orthanc (global property '
                               '%d) to the sidecar, which keeps them now: %s' % (OVERRIDES_PROPERTY, ', '.join(_dotted_keys(kept))))
            _audit(t3_audit.entry('settings-change', t3_audit.SUCCESS, 'overrides kept by an earlier version handed to the sidecar',
                                  'orthanc-t3 plugin', None, {'type': 'configuration', 'id': 'T3'},
                                  changes=[{'key': k} for k in _dotted_keys(mask_secrets(kept))]))
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                time.sleep(MIGRATE_RETRY_S)
                continue
            orthanc.LogWarning('orthanc-t3 plugin: the sidecar refused the configuration overrides kept in Orthanc by an '
                               'earlier version (nothing changed; they are dropped): %s: %s'
                               % (error.code().name if error.code() is not None else 'UNKNOWN', error.details()))
        except Exception as error:  # settings unusable: the routes report it; try again later
            orthanc.LogWarning('orthanc-t3 plugin: cannot hand the kept overrides to the sidecar yet: %s' % error)
            time.sleep(MIGRATE_RETRY_S)
            continue
        orthanc.SetGlobalProperty(OVERRIDES_PROPERTY, '')
        return


def on_change(change_type, level, resource_id):
    # The database may only be touched once Orthanc has started.
    if change_type == orthanc.ChangeType.ORTHANC_STARTED:
        thread = threading.Thread(target=_migrate_legacy_overrides, name='t3-config-migration')
        thread.daemon = True
        thread.start()


def _explorer_js():
    try:
        with open(os.path.join(PLUGIN_DIR, 'explorer.js')) as handle:
            return handle.read()
    except Exception:
        return ''


orthanc.RegisterRestCallback('/t3/config', config_route)
orthanc.RegisterRestCallback('/t3/status', status_route)
orthanc.RegisterRestCallback('/t3/studies/(.*)/analyze', analyze_route)
orthanc.RegisterRestCallback('/t3/audit', audit_route)
orthanc.RegisterRestCallback('/t3/feedback.csv', feedback_csv_route)
orthanc.RegisterRestCallback('/t3/drift', drift_route)
orthanc.RegisterIncomingHttpRequestFilter(_remember_address)
orthanc.RegisterOnChangeCallback(on_change)
orthanc.ExtendOrthancExplorer(_explorer_js())

# ---- issue 14 hook: the triage worklist (/t3/app/, /t3/worklist) and the readable report (/t3/studies/{id}/report)
# live in t3_worklist.py (this folder is first on sys.path). A failure there must not stop Orthanc or these routes.
try:
    import t3_worklist
    t3_worklist.register(sidecar_health=_sidecar_health, rerun=worklist_rerun,
                         is_administrator=lambda request: t3_access.is_administrator(SECTION, request))
except Exception as _worklist_error:
    orthanc.LogError('orthanc-t3 plugin: worklist and report view unavailable: %s: %s' % (type(_worklist_error).__name__, _worklist_error))
# ---- end of issue 14 hook
orthanc.LogWarning('orthanc-t3 plugin: sidecar at %s%s' % (SETTINGS.describe(), '' if IMPORT_ERROR is None else ' (' + IMPORT_ERROR + ')'))
if t3_access.administrators(SECTION) is None:
    orthanc.LogWarning('orthanc-t3 plugin: T3.worklist.administrators is not set: no Orthanc user may change settings, '
                       're-run studies or read the audit (SECURITY.md)')
orthanc.LogWarning('orthanc-t3 plugin: audit trail in %s' % AUDIT.path)
