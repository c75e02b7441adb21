# orthanc-t3: the reading workflow on the worklist, kept in Orthanc as study metadata so every reader sees it and it
# survives restarts of Orthanc and of the sidecar (orthanc-config/orthanc.json names the indexes):
#
#   POST /t3/worklist/studies/{id}/workflow   {"state": "seen" | "acknowledged" | "dismissed" | null}  → T3Ack (4717)
#   POST /t3/worklist/studies/{id}/feedback   {"verdict": "agree" | "disagree" | null, "finding": "…"} → T3Feedback (4718)
#
# Each entry is JSON with the Orthanc user and the time (UTC); null clears it. The feedback also keeps what the AI
# said when the radiologist judged it (priority, its reason, top finding, λ_B), so a later re-run does not change
# what was judged. Every reader of the worklist may do both (reading is their work); the requests change state, so
# they pass the same cross-site checks as the administrative routes (t3_access.py): a JSON body with Content-Type
# application/json, and an Origin, when sent, naming this server.
#
# Registered by t3_worklist.register(); nothing runs at import time except definitions.

import datetime
import json
import re

import orthanc

import t3_access
from t3_json_limits import BodyError, parse_json_body

ACK_INDEX = 4717
FEEDBACK_INDEX = 4718
STATES = ('seen', 'acknowledged', 'dismissed')
VERDICTS = ('agree', 'disagree')
# A finding is a label, not a note: long enough for any class name, short enough to keep the metadata small.
MAX_FINDING_CHARS = 200
# Workflow bodies are a few dozen bytes.
MAX_BODY_BYTES = 4096
# An Orthanc study id (SHA-1 in five dash-separated groups): anything else never reaches Orthanc's REST API.
STUDY_ID = re.compile(r'^[0-9a-f]{8}(-[0-9a-f]{8}){4}$')


def read_record(text):
    """The JSON object of a T3Ack / T3Feedback entry; None when absent or unreadable (a bad entry hides nothing)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _now():
    return datetime.datetime.utcnow().replace(microsecond=0).isoformat() + 'Z'


def _send(output, status, body):
    text = json.dumps(body, sort_keys=True)
    if status == 200:
        output.AnswerBuffer(text, 'application/json')
    else:
        output.SendHttpStatus(status, text, len(text.encode('utf-8')))


def _metadata(study_id):
    return json.loads(orthanc.RestApiGet('/studies/%s/metadata?expand' % study_id))


def _value(meta, name, index):
    value = meta.get(name)
    return value if value is not None else meta.get(str(index))


def _write(study_id, index, record):
    uri = '/studies/%s/metadata/%d' % (study_id, index)
    if record is None:
        try:
            orthanc.RestApiDelete(uri)
        except Exception:
            pass  # nothing to clear
        return
    orthanc.RestApiPut(uri, json.dumps(record, sort_keys=True))


def _admit(output, request):
    """The parsed body, or None after answering the refusal."""
    if request.get('method') != 'POST':
        output.SendMethodNotAllowed('POST')
        return None
    refusal = t3_access.csrf_refusal(request)
    if refusal is not None:
        _send(output, refusal.status, {'error': refusal.reason})
        return None
    try:
        body = parse_json_body(request.get('body') or b'', max_bytes=MAX_BODY_BYTES, max_depth=2)
    except BodyError as error:
        _send(output, 400, {'error': str(error)})
        return None
    if not isinstance(body, dict):
        _send(output, 400, {'error': 'the body must be a JSON object'})
        return None
    return body


def _study_metadata(output, study_id):
    if not STUDY_ID.match(study_id or ''):
        _send(output, 404, {'error': 'not an Orthanc study id'})
        return None
    try:
        return _metadata(study_id)
    except Exception:
        _send(output, 404, {'error': 'no study %s in Orthanc' % study_id})
        return None


def workflow_route(output, uri, **request):
    body = _admit(output, request)
    if body is None:
        return
    state = body.get('state')
    if state is not None and state not in STATES:
        _send(output, 400, {'error': 'state must be one of %s, or null to clear it' % ', '.join(STATES)})
        return
    study_id = request['groups'][0]
    if _study_metadata(output, study_id) is None:
        return
    record = None if state is None else {'state': state, 'user': t3_access.user_of(request), 'at': _now()}
    try:
        _write(study_id, ACK_INDEX, record)
    except Exception as error:
        _send(output, 502, {'error': 'Orthanc did not store the workflow state: %s' % error})
        return
    _send(output, 200, {'id': study_id, 'acknowledgement': record})


def feedback_route(output, uri, **request):
    body = _admit(output, request)
    if body is None:
        return
    verdict = body.get('verdict')
    finding = body.get('finding')
    if verdict is not None and verdict not in VERDICTS:
        _send(output, 400, {'error': 'verdict must be one of %s, or null to clear it' % ', '.join(VERDICTS)})
        return
    if finding is not None and (not isinstance(finding, str) or len(finding) > MAX_FINDING_CHARS):
        _send(output, 400, {'error': 'finding must be a text of at most %d characters' % MAX_FINDING_CHARS})
        return
    study_id = request['groups'][0]
    meta = _study_metadata(output, study_id)
    if meta is None:
        return
    record = None
    if verdict is not None:
        record = {'verdict': verdict, 'user': t3_access.user_of(request), 'at': _now()}
        if verdict == 'disagree' and finding and finding.strip():
            record['finding'] = finding.strip()
        # What was judged: the AI's answer at this moment (a re-run may change it later).
        judged = {'priority': _value(meta, 'T3Priority', 4702), 'priorityReason': _value(meta, 'T3PriorityReason', 4716),
                  'review': _value(meta, 'T3Review', 4710), 'topFinding': _value(meta, 'T3TopFinding', 4711),
                  'lambda': _value(meta, 'T3Lambda', 4703), 'sr': _value(meta, 'T3Sr', 4704),
                  # For the feedback export (t3_feedback_csv.py, ExportFeedback): which model, how divided.
                  'divergence': _value(meta, 'T3Divergence', 4719), 'model': _value(meta, 'T3Model', 4720)}
        record['ai'] = dict((k, v) for k, v in judged.items() if v is not None)
    try:
        _write(study_id, FEEDBACK_INDEX, record)
    except Exception as error:
        _send(output, 502, {'error': 'Orthanc did not store the feedback: %s' % error})
        return
    _send(output, 200, {'id': study_id, 'feedback': record})


def register():
    orthanc.RegisterRestCallback('/t3/worklist/studies/([^/]+)/workflow', workflow_route)
    orthanc.RegisterRestCallback('/t3/worklist/studies/([^/]+)/feedback', feedback_route)
