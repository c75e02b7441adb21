# orthanc-t3: the triage worklist and the readable report, inside Orthanc (orthanc-python 4.0, Orthanc 1.10.1).
#
#   GET  /t3/app/                       the worklist page (worklist/index.html, .js, .css beside this file)
#   GET  /t3/worklist                   its data: every study with its triage metadata, emergency → urgent →
#                                       routine → not triaged, then by arrival (oldest first); `canRerun` for the user
#   POST /t3/worklist/rerun/{id}        re-run for administrators (T3.worklist.administrators), forwarded to the
#                                       plugin's own POST /t3/studies/{id}/analyze
#   GET  /t3/studies/{id}/report        the study's AI-result SR as HTML (t3_report_html.py)
#
# All of it is behind Orthanc's own HTTP authentication, like every REST route. Registered by t3_plugin.py's hook;
# nothing here runs at import time except definitions (an exception while Orthanc loads the plugin stops Orthanc).

import base64
import json
import os
import threading

import orthanc

import t3_report_html

ASSET_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'worklist')
ASSETS = {
    '': ('index.html', 'text/html; charset=utf-8'),
    'index.html': ('index.html', 'text/html; charset=utf-8'),
    'worklist.js': ('worklist.js', 'application/javascript; charset=utf-8'),
    'worklist.css': ('worklist.css', 'text/css; charset=utf-8'),
}

# Study metadata the sidecar writes (src/orthanc/triage-metadata.ts): name → index. Read by either form.
METADATA = {
    'T3Status': '4701', 'T3Priority': '4702', 'T3Lambda': '4703', 'T3Sr': '4704', 'T3Error': '4705',
    'T3Review': '4710', 'T3TopFinding': '4711', 'T3Findings': '4712', 'T3Demo': '4713', 'T3Finished': '4714',
}
PRIORITY_ORDER = {'emergency': 0, 'urgent': 1, 'routine': 2}

# Arrival of a study never changes: the reception date of its first image, cached per study id.
_arrivals = {}
_arrivals_lock = threading.Lock()


def _section():
    try:
        section = json.loads(orthanc.GetConfiguration()).get('T3', {})
        return section if isinstance(section, dict) else {}
    except Exception:
        return {}


def _administrators():
    """None: every user Orthanc lets in (1.10.1 has no roles); else the Orthanc user names allowed to re-run."""
    worklist = _section().get('worklist') or {}
    admins = worklist.get('administrators') if isinstance(worklist, dict) else None
    return admins if isinstance(admins, list) else None


def _user(request):
    headers = request.get('headers') or {}
    value = headers.get('authorization') or headers.get('Authorization') or ''
    if not value.lower().startswith('basic '):
        return None
    try:
        return base64.b64decode(value[6:].strip()).decode('utf-8').split(':', 1)[0]
    except Exception:
        return None


def _can_rerun(request):
    admins = _administrators()
    return admins is None or _user(request) in admins


def _get(uri):
    return json.loads(orthanc.RestApiGet(uri))


def _meta(expanded, name):
    value = expanded.get(name)
    if value is None:
        value = expanded.get(METADATA[name])
    return value


def _arrival(study_id, series_by_id, series_ids):
    with _arrivals_lock:
        if study_id in _arrivals:
            return _arrivals[study_id]
    # The first image series (our SR series arrives later and is not the study's arrival).
    candidates = [series_by_id[s] for s in series_ids if s in series_by_id]
    candidates.sort(key=lambda s: (s.get('MainDicomTags', {}).get('Modality') == 'SR', s.get('ID')))
    value = ''
    for series in candidates:
        instances = series.get('Instances') or []
        if instances:
            try:
                value = orthanc.RestApiGet('/instances/%s/metadata/ReceptionDate' % instances[0])
                value = value.decode('utf-8') if isinstance(value, bytes) else value
            except Exception:
                value = ''
            break
    if value:
        with _arrivals_lock:
            _arrivals[study_id] = value
    return value


def worklist_rows():
    """Every study with its triage state, in worklist order."""
    studies = _get('/studies?expand')
    series_by_id = dict((s['ID'], s) for s in _get('/series?expand'))
    rows = []
    for study in studies:
        study_id = study['ID']
        try:
            meta = _get('/studies/%s/metadata?expand' % study_id)
        except Exception:
            continue  # deleted meanwhile
        tags = study.get('MainDicomTags', {})
        patient = study.get('PatientMainDicomTags', {})
        modalities = sorted(set(
            series_by_id[s].get('MainDicomTags', {}).get('Modality', '')
            for s in study.get('Series', []) if s in series_by_id) - set(['', 'SR']))
        status = _meta(meta, 'T3Status') or 'queued'
        priority = _meta(meta, 'T3Priority') if status in ('done', 'running') else None
        review = _meta(meta, 'T3Review') or ''
        rows.append({
            'id': study_id,
            'patientName': patient.get('PatientName', ''),
            'patientId': patient.get('PatientID', ''),
            'description': tags.get('StudyDescription', ''),
            'studyDate': tags.get('StudyDate', ''),
            'modalities': modalities,
            'arrival': _arrival(study_id, series_by_id, study.get('Series', [])),
            'status': status,
            'priority': priority,
            'review': review.startswith('yes'),
            'reviewReason': review[len('yes: '):] if review.startswith('yes: ') else None,
            'topFinding': _meta(meta, 'T3TopFinding'),
            'findings': [f for f in (_meta(meta, 'T3Findings') or '').split('; ') if f],
            'demonstration': _meta(meta, 'T3Demo') == 'true',
            'finishedAt': _meta(meta, 'T3Finished'),
            'srInstanceId': _meta(meta, 'T3Sr'),
            'error': _meta(meta, 'T3Error'),
            'lambda': _meta(meta, 'T3Lambda'),
        })
    # Highest priority first; studies not (yet) triaged after the routine ones; then oldest arrival first.
    rows.sort(key=lambda r: (PRIORITY_ORDER.get(r['priority'], 3), r['arrival'] or '~', r['id']))
    return rows


def _send_json(output, status, body):
    text = json.dumps(body, indent=1, sort_keys=True)
    if status == 200:
        output.AnswerBuffer(text, 'application/json')
    else:
        output.SendHttpStatus(status, text, len(text.encode('utf-8')))


def _html_error(output, status, message):
    text = '<!DOCTYPE html><html><body><h1>AI triage report</h1><p>%s</p></body></html>' % t3_report_html._e(message)
    output.SendHttpStatus(status, text, len(text.encode('utf-8')))


def app_route(output, uri, **request):
    if request['method'] != 'GET':
        output.SendMethodNotAllowed('GET')
        return
    # Orthanc 1.10.1 drops a trailing slash before matching routes: '/t3/app/' arrives as '/t3/app' (group ''), so
    # one route serves the page and its files, by file name.
    groups = request.get('groups') or ['']
    name = (groups[0] or '').split('/')[-1]
    asset = ASSETS.get(name)
    if asset is None:
        text = 'no such worklist file: %s' % name
        output.SendHttpStatus(404, text, len(text.encode('utf-8')))
        return
    with open(os.path.join(ASSET_DIR, asset[0]), 'rb') as handle:
        output.AnswerBuffer(handle.read(), asset[1])


def worklist_route(output, uri, **request):
    if request['method'] != 'GET':
        output.SendMethodNotAllowed('GET')
        return
    try:
        rows = worklist_rows()
    except Exception as error:
        _send_json(output, 500, {'error': '%s: %s' % (type(error).__name__, error)})
        return
    _send_json(output, 200, {'studies': rows, 'canRerun': _can_rerun(request), 'user': _user(request)})


def rerun_route(output, uri, **request):
    if request['method'] != 'POST':
        output.SendMethodNotAllowed('POST')
        return
    if not _can_rerun(request):
        _send_json(output, 403, {'error': 'only the administrators named in T3.worklist.administrators may re-run a study'})
        return
    study_id = request['groups'][0]
    try:
        # The plugin's own route (t3_plugin.py) does the gRPC call; "AfterPlugins" lets the internal call reach it.
        answer = orthanc.RestApiPostAfterPlugins('/t3/studies/%s/analyze' % study_id, '{}')
        answer = answer.decode('utf-8') if isinstance(answer, bytes) else answer
        output.AnswerBuffer(answer, 'application/json')
    except Exception as error:
        _send_json(output, 502, {'error': 'the re-run was refused: %s' % error})


def report_route(output, uri, **request):
    if request['method'] != 'GET':
        output.SendMethodNotAllowed('GET')
        return
    study_id = request['groups'][0]
    try:
        meta = _get('/studies/%s/metadata?expand' % study_id)
    except Exception:
        _html_error(output, 404, 'No study %s in Orthanc.' % study_id)
        return
    sr = _meta(meta, 'T3Sr')
    if not sr:
        _html_error(output, 404, 'This study has no AI result yet (triage status: %s).' % (_meta(meta, 'T3Status') or 'queued'))
        return
    try:
        tags = _get('/instances/%s/simplified-tags' % sr)
        page = t3_report_html.render_report_html(
            tags, study_link='../../../app/explorer.html#study?uuid=%s' % study_id, worklist_link='../../app/')
    except Exception as error:
        _html_error(output, 500, 'The AI-result SR %s cannot be shown: %s' % (sr, error))
        return
    output.AnswerBuffer(page, 'text/html; charset=utf-8')


def register():
    """Called once by t3_plugin.py while Orthanc loads the plugin."""
    orthanc.RegisterRestCallback('/t3/app(.*)', app_route)
    orthanc.RegisterRestCallback('/t3/worklist', worklist_route)
    orthanc.RegisterRestCallback('/t3/worklist/rerun/(.*)', rerun_route)
    orthanc.RegisterRestCallback('/t3/studies/(.*)/report', report_route)
