# orthanc-t3 plugin for Orthanc 1.10.1 (orthanc-python 4.0, Debian's Python 3.11).
#
# Adds to Orthanc's own REST API (behind Orthanc's authentication):
#   GET  /t3/config                  effective sidecar configuration + the runtime overrides kept in Orthanc, secrets
#                                    shown as "***"
#   PUT  /t3/config                  partial configuration, validated by the sidecar (AdminService.UpdateConfig) and
#                                    applied at once, or not at all: 200 when all of it took effect, 202 with
#                                    `restartRequired` (the keys that only a sidecar restart applies). The applied
#                                    part, less any secret, is kept in a global property and re-applied after a
#                                    sidecar or Orthanc restart; secrets are never kept (`notKept`; SECURITY.md)
#   GET  /t3/status                  the sidecar's status (AdminService.GetStatus)
#   POST /t3/studies/{id}/analyze    re-run the study now in the stat lane (TriageService.AnalyzeStudy, force)
# and an Orthanc Explorer box on the study page with the triage state and a re-run button.
#
# The sidecar does not need this plugin; the plugin answers 503 while the sidecar is down, 504 when it is too slow.
# It reaches the sidecar over TLS or mutual TLS when configured (t3_sidecar_channel.py). Request bodies are measured
# before parsing (t3_json_limits.py). Helpers live in sibling t3_*.py modules: orthanc-python puts this folder first on
# sys.path. Nothing here may raise at import time: any exception while Orthanc loads the script makes Orthanc exit.

import json
import os
import threading
import time

import orthanc

from t3_config_secrets import keepable, mask_secrets, secret_paths
from t3_json_limits import BodyError, parse_json_body
from t3_sidecar_channel import SettingsError, SidecarSettings

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
# Global property holding runtime configuration overrides (indexes >= 1024 are free for plugins).
OVERRIDES_PROPERTY = 4750
REAPPLY_EVERY_S = 10.0

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


SETTINGS = SidecarSettings(_section().get('plugin'), os.environ, PLUGIN_DIR)
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

    def call(self, service, method, request, deadline=None):
        admin, triage = self._stubs()
        stub = admin if service == 'admin' else triage
        token = SETTINGS.bearer_token()
        metadata = [('authorization', 'Bearer %s' % token)] if token else []
        try:
            return getattr(stub, method)(request, timeout=deadline or DEADLINE_S, metadata=metadata)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                self.reset()
            raise


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


def _read_overrides():
    try:
        text = orthanc.GetGlobalProperty(OVERRIDES_PROPERTY, '')
        value = parse_json_body(text) if text else {}
        return value if isinstance(value, dict) else {}
    except Exception:
        return {}


def _write_overrides(overrides):
    orthanc.SetGlobalProperty(OVERRIDES_PROPERTY, json.dumps(overrides))


def _forget_stored_secrets():
    """Earlier versions kept secrets in the global property: drop them once, at start (they stay in effect only where
    the sidecar's own configuration has them)."""
    overrides = _read_overrides()
    found = secret_paths(overrides)
    if found:
        _write_overrides(keepable(overrides, []))
        orthanc.LogWarning('orthanc-t3 plugin: removed secrets from the stored configuration overrides: %s' % ', '.join(found))


def _merge(base, overlay):
    if not isinstance(base, dict) or not isinstance(overlay, dict):
        return overlay
    out = dict(base)
    for key, value in overlay.items():
        out[key] = _merge(base.get(key), value) if key in base else value
    return out


def _message_dict(message):
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


@_guarded
def config_route(output, uri, **request):
    method = request['method']
    if method == 'GET':
        response = CLIENT.call('admin', 'GetConfig', admin_pb2.GetConfigRequest())
        _send_json(output, 200, {'effective': json.loads(response.json), 'overrides': mask_secrets(_read_overrides())})
    elif method == 'PUT':
        try:
            partial = parse_json_body(request.get('body') or b'')
        except BodyError as error:
            _fail(output, 400, str(error))
            return
        if not isinstance(partial, dict):
            _fail(output, 400, 'the body must be a JSON object (a partial T3 configuration)')
            return
        # The sidecar validates, tries and commits the whole change, or refuses it and changes nothing.
        response = CLIENT.call('admin', 'UpdateConfig', admin_pb2.UpdateConfigRequest(json=json.dumps(partial), dry_run=False),
                               deadline=CONFIG_UPDATE_DEADLINE_S)
        restart_required = list(response.restart_required)
        overrides = _merge(_read_overrides(), keepable(partial, restart_required))
        _write_overrides(overrides)
        body = {
            # True only when everything asked for is in effect now.
            'applied': response.applied and not restart_required,
            'changedKeys': list(response.changed_keys),
            'restartRequired': restart_required,
            # Secrets were passed to the running sidecar but are not kept here: see SECURITY.md.
            'notKept': secret_paths(partial),
            'effective': json.loads(response.json),
            'overrides': mask_secrets(overrides),
        }
        if restart_required:
            body['message'] = ('not applied: %s take effect only when the sidecar restarts with them in its own configuration'
                               % ', '.join(restart_required))
        _send_json(output, 202 if restart_required else 200, body)
    else:
        output.SendMethodNotAllowed('GET,PUT')


@_guarded
def status_route(output, uri, **request):
    if request['method'] != 'GET':
        output.SendMethodNotAllowed('GET')
        return
    response = CLIENT.call('admin', 'GetStatus', admin_pb2.GetStatusRequest())
    body = _message_dict(response)
    body['sidecarAddress'] = SIDECAR_ADDRESS
    _send_json(output, 200, body)


@_guarded
def analyze_route(output, uri, **request):
    if request['method'] != 'POST':
        output.SendMethodNotAllowed('POST')
        return
    study_id = request['groups'][0]
    analyze = triage_pb2.AnalyzeStudyRequest(
        study=common_pb2.StudyRef(orthanc_study_id=study_id),
        priority=common_pb2.RUN_PRIORITY_STAT,
        write_back=True,
        return_immediately=True,
        # An explicit re-run analyses again with the current rules and model, and writes an SR that supersedes the
        # previous one; without it a study already analysed with the same inputs would answer its stored result.
        force=True,
    )
    response = CLIENT.call('triage', 'AnalyzeStudy', analyze)
    _send_json(output, 200, _message_dict(response))


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


def _reapply_overrides_forever():
    """Keeps the sidecar on the runtime configuration kept in Orthanc (the sidecar may restart without it). Each
    attempt is all or nothing on the sidecar's side; a refusal is logged once per reason and retried later."""
    last_refusal = None
    while True:
        overrides = _read_overrides()
        if overrides and CLIENT is not None:
            try:
                CLIENT.call('admin', 'UpdateConfig', admin_pb2.UpdateConfigRequest(json=json.dumps(overrides), dry_run=False),
                            deadline=CONFIG_UPDATE_DEADLINE_S)
                last_refusal = None
            except grpc.RpcError as error:
                refusal = '%s: %s' % (error.code().name if error.code() is not None else 'UNKNOWN', error.details())
                if error.code() != grpc.StatusCode.UNAVAILABLE and refusal != last_refusal:
                    orthanc.LogWarning('orthanc-t3 plugin: the sidecar refused the stored configuration overrides '
                                       '(nothing changed): %s' % refusal)
                last_refusal = refusal
            except Exception as error:  # settings unusable: the routes report it
                last_refusal = str(error)
        time.sleep(REAPPLY_EVERY_S)


def on_change(change_type, level, resource_id):
    # The database may only be touched once Orthanc has started.
    if change_type == orthanc.ChangeType.ORTHANC_STARTED:
        _forget_stored_secrets()
        thread = threading.Thread(target=_reapply_overrides_forever, name='t3-config-sync')
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
orthanc.RegisterOnChangeCallback(on_change)
orthanc.ExtendOrthancExplorer(_explorer_js())

# ---- issue 14 hook: the triage worklist (/t3/app/, /t3/worklist) and the readable report (/t3/studies/{id}/report)
# live in t3_worklist.py (this folder is first on sys.path). A failure there must not stop Orthanc or these routes.
try:
    import t3_worklist
    t3_worklist.register(sidecar_health=_sidecar_health)
except Exception as _worklist_error:
    orthanc.LogError('orthanc-t3 plugin: worklist and report view unavailable: %s: %s' % (type(_worklist_error).__name__, _worklist_error))
# ---- end of issue 14 hook
orthanc.LogWarning('orthanc-t3 plugin: sidecar at %s%s' % (SETTINGS.describe(), '' if IMPORT_ERROR is None else ' (' + IMPORT_ERROR + ')'))
