# orthanc-t3: the radiologists' feedback as CSV (GET /t3/feedback.csv, administrators; issue 24): one row per study
# with a verdict (T3Feedback, written by t3_workflow.py), with what was judged: priority, top finding, the model, λ_B
# and the divergence of the study's images. The same rows as the sidecar's AdminService.ExportFeedback
# (src/orthanc/feedback-export.ts); read here from Orthanc directly, so the export works while the sidecar is down.
#
# Orthanc 1.10.1 cannot search by metadata: every study is looked at, PAGE studies per REST call.

import csv
import io
import json

import t3_workflow

COLUMNS = ('orthanc_study_id', 'study_instance_uid', 'user', 'at', 'verdict', 'finding', 'priority', 'top_finding',
           'model', 'lambda_b', 'divergence')
PAGE = 500
DIVERGENCE_INDEX = 4719
MODEL_INDEX = 4720
# A cell starting with one of these is a formula to a spreadsheet: a user name or finding must never run as one.
FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')


def _cell(value):
    if value is None:
        return ''
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ''
    return '%.4f' % number if number == number else ''


def row_of(study_id, study_uid, meta):
    """The CSV row of one study's expanded metadata; None without a readable verdict."""
    record = t3_workflow.read_record(t3_workflow._value(meta, 'T3Feedback', t3_workflow.FEEDBACK_INDEX))
    if not record or record.get('verdict') not in t3_workflow.VERDICTS:
        return None
    ai = record.get('ai') if isinstance(record.get('ai'), dict) else {}

    def judged(key, name, index):
        # The copy kept when the radiologist judged; the study's current entry for records written before it.
        value = ai.get(key)
        return value if value is not None else t3_workflow._value(meta, name, index)

    return [_cell(study_id), _cell(study_uid), _cell(record.get('user')), _cell(record.get('at')),
            _cell(record.get('verdict')), _cell(record.get('finding')),
            _cell(judged('priority', 'T3Priority', 4702)), _cell(judged('topFinding', 'T3TopFinding', 4711)),
            _cell(judged('model', 'T3Model', MODEL_INDEX)), _number(judged('lambda', 'T3Lambda', 4703)),
            _number(judged('divergence', 'T3Divergence', DIVERGENCE_INDEX))]


def feedback_csv(rest_get):
    """The whole CSV text; rest_get is orthanc.RestApiGet (a parameter, so tests and callers choose)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\r\n')
    writer.writerow(COLUMNS)
    since = 0
    while True:
        studies = json.loads(rest_get('/studies?expand&since=%d&limit=%d' % (since, PAGE)))
        for study in studies:
            try:
                meta = json.loads(rest_get('/studies/%s/metadata?expand' % study['ID']))
            except Exception:
                continue  # deleted while the export ran
            row = row_of(study['ID'], (study.get('MainDicomTags') or {}).get('StudyInstanceUID', ''), meta)
            if row is not None:
                writer.writerow(row)
        if len(studies) < PAGE:
            return out.getvalue()
        since += len(studies)
