# orthanc-t3 plugin for Orthanc 1.10.1 (orthanc-python 4.0, Debian's Python 3.11).
#
# Adds to Orthanc's own REST API (behind Orthanc's authentication):
#   GET  /t3/config                  effective sidecar configuration + the runtime overrides kept in Orthanc
#   PUT  /t3/config                  partial configuration, validated by the sidecar (AdminService.UpdateConfig);
#                                    when accepted it is applied at once and kept in a global property, so it is
#                                    re-applied after a sidecar or Orthanc restart
#   GET  /t3/status                  the sidecar's status (AdminService.GetStatus)
#   POST /t3/studies/{id}/analyze    re-run the study now in the stat lane (TriageService.AnalyzeStudy)
# and an Orthanc Explorer box on the study page with the triage state and a re-run button.
#
# The sidecar does not need this plugin; the plugin answers 503 while the sidecar is down, 504 when it is too slow.
# Nothing here may raise at import time: any exception while Orthanc loads the script makes Orthanc exit.

import json
import os
import threading
import time

import orthanc

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


_PLUGIN_SETTINGS = _section().get('plugin') or {}
if not isinstance(_PLUGIN_SETTINGS, dict):
    _PLUGIN_SETTINGS = {}
SIDECAR_ADDRESS = os.environ.get('T3_PLUGIN_SIDECAR_ADDRESS') or _PLUGIN_SETTINGS.get('sidecarAddress') or '127.0.0.1:50051'
TOKEN = os.environ.get('T3_PLUGIN_TOKEN') or _PLUGIN_SETTINGS.get('token')
try:
    DEADLINE_S = float(_PLUGIN_SETTINGS.get('deadlineSeconds', 5))
except (TypeError, ValueError):
    DEADLINE_S = 5.0


class SidecarClient(object):
    """One channel to the sidecar, re-created after UNAVAILABLE (grpcio 1.51 channels recover slowly)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._channel = None

    def _stubs(self):
        with self._lock:
            if self._channel is None:
                self._channel = grpc.insecure_channel(SIDECAR_ADDRESS)
            return admin_pb2_grpc.AdminServiceStub(self._channel), triage_pb2_grpc.TriageServiceStub(self._channel)

    def reset(self):
        # Do not close the old channel: calls from other threads may still be using it.
        with self._lock:
            self._channel = None

    def call(self, service, method, request, deadline=None):
        admin, triage = self._stubs()
        stub = admin if service == 'admin' else triage
        metadata = [('authorization', 'Bearer %s' % TOKEN)] if TOKEN else []
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
        value = json.loads(text) if text else {}
        return value if isinstance(value, dict) else {}
    except Exception:
        return {}


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
        _send_json(output, 200, {'effective': json.loads(response.json), 'overrides': _read_overrides()})
    elif method == 'PUT':
        body = request.get('body') or b''
        try:
            partial = json.loads(body.decode('utf-8') if isinstance(body, bytes) else body)
        except ValueError as error:
            _fail(output, 400, 'the body is not JSON: %s' % error)
            return
        if not isinstance(partial, dict):
            _fail(output, 400, 'the body must be a JSON object (a partial T3 configuration)')
            return
        response = CLIENT.call('admin', 'UpdateConfig', admin_pb2.UpdateConfigRequest(json=json.dumps(partial), dry_run=False))
        overrides = _merge(_read_overrides(), partial)
        orthanc.SetGlobalProperty(OVERRIDES_PROPERTY, json.dumps(overrides))
        _send_json(output, 200, {
            'applied': response.applied,
            'changedKeys': list(response.changed_keys),
            'effective': json.loads(response.json),
            'overrides': overrides,
        })
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
    )
    response = CLIENT.call('triage', 'AnalyzeStudy', analyze)
    _send_json(output, 200, _message_dict(response))


def _reapply_overrides_forever():
    """Keeps the sidecar on the runtime configuration kept in Orthanc (the sidecar may restart without it)."""
    while True:
        overrides = _read_overrides()
        if overrides and CLIENT is not None:
            try:
                CLIENT.call('admin', 'UpdateConfig', admin_pb2.UpdateConfigRequest(json=json.dumps(overrides), dry_run=False))
            except Exception:
                pass  # sidecar down or refusing: the routes report it; try again later
        time.sleep(REAPPLY_EVERY_S)


def on_change(change_type, level, resource_id):
    # The database may only be touched once Orthanc has started.
    if change_type == orthanc.ChangeType.ORTHANC_STARTED:
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
    t3_worklist.register()
except Exception as _worklist_error:
    orthanc.LogError('orthanc-t3 plugin: worklist and report view unavailable: %s: %s' % (type(_worklist_error).__name__, _worklist_error))
# ---- end of issue 14 hook
orthanc.LogWarning('orthanc-t3 plugin: sidecar at %s%s' % (SIDECAR_ADDRESS, '' if IMPORT_ERROR is None else ' (' + IMPORT_ERROR + ')'))
