# orthanc-t3: the triage worklist and the readable report, inside Orthanc (orthanc-python 4.0, Orthanc 1.10.1).
#
#   GET  /t3/app/                       the worklist page (worklist/index.html, .js, .css beside this file)
#   GET  /t3/worklist                   its data: every study with its triage metadata in groups emergency →
#                                       urgent → not yet triaged → routine → nothing to analyse, each by arrival
#                                       (oldest first); `canRerun` for the user; `aiStatus`: whether the AI works
#   POST /t3/worklist/rerun/{id}        re-run for administrators (T3.worklist.administrators): t3_plugin.py's
#                                       re-run, with the same role and cross-site checks and the same audit
#   GET  /t3/studies/{id}/report        the study's AI-result SR as HTML (t3_report_html.py)
#   POST /t3/worklist/studies/{id}/workflow, …/feedback   seen / acknowledged / dismissed, and agree / disagree, kept
#                                       as study metadata with user and time (t3_workflow.py)
#
# All of it is behind Orthanc's own HTTP authentication, like every REST route; reading is for every user Orthanc
# lets in, re-running for administrators (t3_access.py). Pages are served with a Content-Security-Policy that allows
# no inline script, and text from studies is shown with bidi and control characters neutralised (t3_display.py).
# Registered by t3_plugin.py's hook; nothing here runs at import time except definitions (an exception while Orthanc
# loads the plugin stops Orthanc).

import base64
import datetime
import json
import os
import threading
import time

import orthanc

import t3_display
import t3_format
import t3_report_html
import t3_workflow

ASSET_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'worklist')
ASSETS = {
    '': ('index.html', 'text/html; charset=utf-8'),
    'index.html': ('index.html', 'text/html; charset=utf-8'),
    'worklist.js': ('worklist.js', 'application/javascript; charset=utf-8'),
    'drift.js': ('drift.js', 'application/javascript; charset=utf-8'),
    'worklist.css': ('worklist.css', 'text/css; charset=utf-8'),
}

# Study metadata the sidecar writes (src/orthanc/triage-metadata.ts): name → index. Read by either form.
METADATA = {
    'T3Status': '4701', 'T3Priority': '4702', 'T3Lambda': '4703', 'T3Sr': '4704', 'T3Error': '4705',
    'T3Review': '4710', 'T3TopFinding': '4711', 'T3Findings': '4712', 'T3Demo': '4713', 'T3Finished': '4714',
    'T3ReportError': '4715', 'T3PriorityReason': '4716', 'T3Ack': '4717', 'T3Feedback': '4718',
}
PRIORITIES = ('emergency', 'urgent', 'routine')
# Worklist groups, top to bottom. A study that has no priority yet is not known to be routine: it stands above the
# routine ones until the AI has classified it, so an emergency is never buried under routine studies while it waits.
GROUP_ORDER = {'emergency': 0, 'urgent': 1, 'waiting': 2, 'routine': 3, 'skipped': 4}
# How long a study may wait for its triage before the worklist says the AI is not keeping up (T3.worklist.maxWaitSeconds).
DEFAULT_MAX_WAIT_S = 600
# The sidecar's health is asked at most this often, whatever the number of open worklist pages, and with a short
# deadline: a hung sidecar must not hold up the list, which comes from Orthanc alone.
HEALTH_CACHE_S = 5.0
HEALTH_DEADLINE_S = 2.0

# Arrival of a study never changes: the reception date of its first image, cached per study id.
_arrivals = {}
_arrivals_lock = threading.Lock()

# Set by register(): a callable(deadline_s) → {'state': 'ready' | 'not-ready' | 'unreachable' | 'unknown', 'reason': str}
# (t3_plugin.py owns the gRPC channel); None when the plugin registers the worklist without it.
_sidecar_health = None
# Set by register(): t3_plugin.py's guarded re-run route (roles, cross-site checks, audit) and its role check.
_rerun = None
_is_administrator = None
# The plugin's pages: scripts only from this Orthanc's files (no inline script, no event-handler attribute), no
# plugin, no framing by another site; styles may be inline (the report carries its own).
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'")
_health_cache = {'at': None, 'value': None}
_health_lock = threading.Lock()


def _section():
    try:
        section = json.loads(orthanc.GetConfiguration()).get('T3', {})
        return section if isinstance(section, dict) else {}
    except Exception:
        return {}


def _viewer_url():
    """T3.worklist.viewerUrl: where "Open" takes a study, with {id} (Orthanc's study id) and {StudyInstanceUID} filled
    in by the page, relative to /t3/app/ or absolute (an OHIF, a Stone viewer); None: Orthanc Explorer."""
    worklist = _section().get('worklist') or {}
    value = worklist.get('viewerUrl') if isinstance(worklist, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def _max_wait_seconds():
    worklist = _section().get('worklist') or {}
    value = worklist.get('maxWaitSeconds') if isinstance(worklist, dict) else None
    # A bad value must not switch the alarm off: anything but a positive number means the default.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return DEFAULT_MAX_WAIT_S
    return value


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
    # The same rule the re-run itself enforces (t3_access.py): the button is only a convenience.
    return bool(_is_administrator and _is_administrator(request))


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


def _seconds_since(reception_date, now):
    """Seconds from Orthanc's ReceptionDate (UTC, '20240131T235959') to now; None when unreadable."""
    try:
        arrived = datetime.datetime.strptime(reception_date, '%Y%m%dT%H%M%S')
    except (TypeError, ValueError):
        return None
    return max(0, int((now - arrived).total_seconds()))


def _group(status, priority):
    # Without a priority a study waits for its triage (queued, running, failed, parked, or anything unexpected), unless
    # there was nothing the AI could analyse (an SR, a KOS, …).
    if priority:
        return priority
    return 'skipped' if status == 'skipped' else 'waiting'


def worklist_rows(now=None):
    """Every study with its triage state, in worklist order."""
    now = now or datetime.datetime.utcnow()
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
        body_parts = sorted(set(
            (series_by_id[s].get('MainDicomTags', {}).get('BodyPartExamined') or '').strip().upper()
            for s in study.get('Series', []) if s in series_by_id) - set(['']))
        status = _meta(meta, 'T3Status') or 'queued'
        # Priority before paperwork: the sidecar records the priority as soon as the study is classified, before its
        # SR; it stands whatever happens to the SR afterwards (failed, parked, a re-run queued).
        priority = _meta(meta, 'T3Priority')
        priority = priority if priority in PRIORITIES else None
        error = _meta(meta, 'T3Error')
        report_error = _meta(meta, 'T3ReportError')
        if priority and not report_error and status in ('failed', 'parked'):
            report_error = error or 'the AI result could not be stored'
        group = _group(status, priority)
        arrival = _arrival(study_id, series_by_id, study.get('Series', []))
        review = _meta(meta, 'T3Review') or ''
        rows.append({
            'id': study_id,
            'patientName': patient.get('PatientName', ''),
            # As a reader writes them (t3_format.py): "Family, Given", "2004-08-26", "34 Y".
            'patientNameDisplay': t3_format.person_name(patient.get('PatientName', '')),
            'patientId': patient.get('PatientID', ''),
            'patientSex': (patient.get('PatientSex') or '').strip().upper(),
            'patientAge': t3_format.age(patient.get('PatientBirthDate'), tags.get('StudyDate')),
            'accessionNumber': tags.get('AccessionNumber', ''),
            'studyInstanceUid': tags.get('StudyInstanceUID', ''),
            'description': tags.get('StudyDescription', ''),
            'studyDate': tags.get('StudyDate', ''),
            'studyDateDisplay': t3_format.dicom_date(tags.get('StudyDate', '')),
            'modalities': modalities,
            'bodyParts': body_parts,
            'arrival': arrival,
            # Time since the first image arrived, for every study (the list reads "12 min", "3 h 05 min").
            'arrivedSeconds': _seconds_since(arrival, now),
            'status': status,
            'priority': priority,
            'group': group,
            # How long a study without a priority has waited for it since its first image arrived.
            'waitingSeconds': _seconds_since(arrival, now) if group == 'waiting' else None,
            'reportFailed': bool(priority and report_error),
            'reportError': report_error if priority else None,
            'review': review.startswith('yes'),
            'reviewReason': review[len('yes: '):] if review.startswith('yes: ') else None,
            # Why the priority, as the sidecar worded it (T3PriorityReason); shown as written, never re-derived here.
            'priorityReason': _meta(meta, 'T3PriorityReason') if priority else None,
            # The reading workflow and the radiologist's verdict (t3_workflow.py): {state, user, at}, {verdict, …}.
            'acknowledgement': t3_workflow.read_record(_meta(meta, 'T3Ack')),
            'feedback': t3_workflow.read_record(_meta(meta, 'T3Feedback')),
            'topFinding': _meta(meta, 'T3TopFinding'),
            'findings': [f for f in (_meta(meta, 'T3Findings') or '').split('; ') if f],
            'demonstration': _meta(meta, 'T3Demo') == 'true',
            'finishedAt': _meta(meta, 'T3Finished'),
            'srInstanceId': _meta(meta, 'T3Sr'),
            'error': error,
            'lambda': _meta(meta, 'T3Lambda'),
        })
    # By group (emergency, urgent, not yet triaged, routine, nothing to analyse), then oldest arrival first.
    rows.sort(key=lambda r: (GROUP_ORDER[r['group']], r['arrival'] or '~', r['id']))
    return rows


def _health():
    """The sidecar's state for the banner, cached for HEALTH_CACHE_S; never raises."""
    with _health_lock:
        at, value = _health_cache['at'], _health_cache['value']
        if at is not None and value is not None and 0 <= time.monotonic() - at < HEALTH_CACHE_S:
            return value
    if _sidecar_health is None:
        value = {'state': 'unknown', 'reason': 'the plugin cannot ask the sidecar for its status'}
    else:
        try:
            value = _sidecar_health(HEALTH_DEADLINE_S)
        except Exception as error:
            value = {'state': 'unknown', 'reason': '%s: %s' % (type(error).__name__, error)}
    with _health_lock:
        _health_cache['at'], _health_cache['value'] = time.monotonic(), value
    return value


def ai_status(rows, health, max_wait_s):
    """Whether the AI triage is working, for the worklist's banner: `ok` is false when any problem is listed."""
    problems = []
    state = health.get('state')
    if state == 'unreachable':
        problems.append({'kind': 'sidecar-unreachable', 'message': 'The AI service cannot be reached: %s' % health.get('reason')})
    elif state == 'not-ready':
        problems.append({'kind': 'sidecar-not-ready', 'message': 'The AI service is not ready: %s' % health.get('reason')})
    elif state != 'ready':
        problems.append({'kind': 'sidecar-unknown', 'message': 'The AI service\'s state is unknown: %s' % health.get('reason')})
    waits = [r['waitingSeconds'] for r in rows if r['group'] == 'waiting' and r['waitingSeconds'] is not None]
    oldest = max(waits) if waits else None
    late = [w for w in waits if w > max_wait_s]
    if late:
        problems.append({
            'kind': 'waiting-too-long',
            'message': '%d %s waited more than %s for AI triage (the oldest %s)' % (
                len(late), 'study has' if len(late) == 1 else 'studies have', _duration(max_wait_s), _duration(oldest)),
        })
    return {
        'ok': not problems,
        'problems': problems,
        'sidecar': state if state in ('ready', 'not-ready', 'unreachable') else 'unknown',
        'waitingCount': len([r for r in rows if r['group'] == 'waiting']),
        'oldestWaitingSeconds': oldest,
        'maxWaitSeconds': max_wait_s,
    }


def _duration(seconds):
    seconds = int(seconds)
    if seconds < 120:
        return '%d s' % seconds
    if seconds < 7200:
        return '%d min' % (seconds // 60)
    return '%d h %02d min' % (seconds // 3600, seconds % 3600 // 60)


def _send_json(output, status, body):
    text = json.dumps(body, indent=1, sort_keys=True)
    if status == 200:
        output.AnswerBuffer(text, 'application/json')
    else:
        output.SendHttpStatus(status, text, len(text.encode('utf-8')))


def _html_error(output, status, message):
    text = '<!DOCTYPE html><html><body><h1>AI triage report</h1><p>%s</p></body></html>' % t3_report_html._e(message)
    output.SetHttpHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY)
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
        output.SetHttpHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY)
        output.SetHttpHeader('X-Content-Type-Options', 'nosniff')
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
    # The list comes from Orthanc alone; the sidecar only tells whether the AI is working (the banner), and a failure
    # to tell is itself shown, never a reason to withhold the list.
    try:
        status = ai_status(rows, _health(), _max_wait_seconds())
    except Exception as error:
        status = {'ok': False, 'sidecar': 'unknown', 'waitingCount': None, 'oldestWaitingSeconds': None,
                  'maxWaitSeconds': None, 'problems': [{'kind': 'sidecar-unknown', 'message': 'The AI service\'s state '
                                                        'cannot be told: %s: %s' % (type(error).__name__, error)}]}
    # Text from the studies is shown as stored, less bidi and control characters (a U+202E in a name reverses it).
    _send_json(output, 200, {'studies': t3_display.neutralise_all(rows), 'canRerun': _can_rerun(request), 'viewerUrl': _viewer_url(),
                             'user': t3_display.neutralise(_user(request)), 'aiStatus': t3_display.neutralise_all(status)})


def rerun_route(output, uri, **request):
    if request['method'] != 'POST':
        output.SendMethodNotAllowed('POST')
        return
    if _rerun is None:
        _send_json(output, 503, {'error': 'the re-run is not available (the plugin registered the worklist without it)'})
        return
    # Called directly, not through Orthanc's REST API: an internal call carries no user, no address and no headers,
    # which the role and cross-site checks and the audit need.
    _rerun(output, uri, **request)


# A report names at most this many images by series and number (each costs a few internal REST calls); the rest
# keep "Image n" and their UID.
MAX_NAMED_IMAGES = 200


def _image_names(sr_tags):
    """SOP Instance UID → "Series 2 (CT chest), image 14" for the images the SR's evidence references; never raises
    (a name is a convenience: the UID stays on the page)."""
    names = {}
    uids = []
    for study in sr_tags.get('CurrentRequestedProcedureEvidenceSequence') or []:
        for series in study.get('ReferencedSeriesSequence') or []:
            for sop in series.get('ReferencedSOPSequence') or []:
                uid = sop.get('ReferencedSOPInstanceUID')
                if uid and uid not in uids:
                    uids.append(uid)
    series_cache = {}
    for uid in uids[:MAX_NAMED_IMAGES]:
        try:
            found = json.loads(orthanc.RestApiPost('/tools/lookup', uid))
            instance_id = next((f['ID'] for f in found if f.get('Type') == 'Instance'), None)
            if not instance_id:
                continue
            instance = _get('/instances/%s' % instance_id)
            series_id = instance.get('ParentSeries')
            if series_id not in series_cache:
                series_cache[series_id] = _get('/series/%s' % series_id).get('MainDicomTags', {})
            series = series_cache[series_id]
            what = ' '.join(p for p in (series.get('Modality', ''), series.get('SeriesDescription', '')) if p).strip()
            name = 'Series %s' % (series.get('SeriesNumber') or '?')
            if what:
                name += ' (%s)' % what
            number = instance.get('MainDicomTags', {}).get('InstanceNumber')
            names[uid] = name + (', image %s' % number if number else '')
        except Exception:
            continue
    return names


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
            tags, study_link='../../../app/explorer.html#study?uuid=%s' % study_id, worklist_link='../../app/',
            image_names=_image_names(tags))
    except Exception as error:
        _html_error(output, 500, 'The AI-result SR %s cannot be shown: %s' % (sr, error))
        return
    output.SetHttpHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    output.AnswerBuffer(page, 'text/html; charset=utf-8')


def register(sidecar_health=None, rerun=None, is_administrator=None):
    """Called once by t3_plugin.py while Orthanc loads the plugin, with its sidecar health probe, its re-run route and
    its administrator check."""
    global _sidecar_health, _rerun, _is_administrator
    _sidecar_health = sidecar_health
    _rerun = rerun
    _is_administrator = is_administrator
    orthanc.RegisterRestCallback('/t3/app(.*)', app_route)
    orthanc.RegisterRestCallback('/t3/worklist', worklist_route)
    orthanc.RegisterRestCallback('/t3/worklist/rerun/(.*)', rerun_route)
    t3_workflow.register()
    orthanc.RegisterRestCallback('/t3/studies/(.*)/report', report_route)
