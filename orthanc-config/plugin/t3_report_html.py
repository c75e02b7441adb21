# orthanc-t3: the human-readable view of an AI-result SR (TID 1500, written by the sidecar's src/report/build-sr.ts).
#
# Pure Python (no orthanc module): it renders Orthanc's /instances/{id}/simplified-tags JSON of the SR as one HTML
# page, so it is tested without Orthanc. What it shows comes from the SR's content tree only: findings with their
# probabilities and codes per image, the priority and review flag, the algorithm with its parameters, and the
# demonstration-model notice when the algorithm description carries one.

import html

import t3_display

# Concept codes of the SR (src/report/codes.ts): (scheme, value).
IMAGING_MEASUREMENTS = ('DCM', '126010')
MEASUREMENT_GROUP = ('DCM', '125007')
ALGORITHM_NAME = ('DCM', '111001')
ALGORITHM_VERSION = ('DCM', '111003')
ALGORITHM_PARAMETERS = ('DCM', '111002')
TRACKING_IDENTIFIER = ('DCM', '112039')
FINDING = ('DCM', '121071')
CERTAINTY = ('DCM', '111012')
SOURCE = ('DCM', '121112')
QUALITATIVE_EVALUATIONS = ('UMLS', 'C0034375')
PRIORITY = ('SCT', '260870009')
RECOMMENDATION = ('DCM', '121075')
COMMENT = ('DCM', '121106')
DEVICE_OBSERVER_NAME = ('DCM', '121013')

# Parameters shown in the summary table; the per-image ones (imageLambda[…], imageJs[…]) go in their own list.
MAIN_PARAMETERS = ('method', 'batchSize', 'generalist', 'expert', 'tPt', 'tFt', 'lambdaMin', 'lambdaMax', 'gamma',
                   'logBase', 'eps', 'extTau', 'extDelta')


def _code(sequence):
    """(scheme, value, meaning) of the first item of a code sequence, or None."""
    if not sequence:
        return None
    item = sequence[0]
    value = item.get('CodeValue') or item.get('LongCodeValue') or item.get('URNCodeValue') or ''
    return (item.get('CodingSchemeDesignator', ''), value, item.get('CodeMeaning', ''))


def _concept(item):
    code = _code(item.get('ConceptNameCodeSequence'))
    return (code[0], code[1]) if code else None


def _children(item):
    return item.get('ContentSequence') or []


def _find(items, concept):
    return [child for child in items if _concept(child) == concept]


def _text(item):
    return item.get('TextValue', '')


def parse_ai_result(tags):
    """The facts the page shows, from simplified tags; raises ValueError when this is not our AI-result SR."""
    top = tags.get('ContentSequence')
    if not isinstance(top, list):
        raise ValueError('the instance has no SR content tree')
    measurements = _find(top, IMAGING_MEASUREMENTS)
    if not measurements:
        raise ValueError('the SR has no Imaging Measurements container (not an orthanc-t3 AI result)')
    items = _children(measurements[0])
    parameters = []
    for item in _find(items, ALGORITHM_PARAMETERS):
        text = _text(item)
        key, _, value = text.partition('=')
        parameters.append((key, value))
    groups = []
    for group in _find(items, MEASUREMENT_GROUP):
        children = _children(group)
        finding = next((_code(c.get('ConceptCodeSequence')) for c in _find(children, FINDING)), None)
        certainty = None
        for c in _find(children, CERTAINTY):
            values = c.get('MeasuredValueSequence') or []
            if values:
                certainty = float(values[0].get('NumericValue', 'nan'))
        source = None
        for c in _find(children, SOURCE):
            refs = c.get('ReferencedSOPSequence') or []
            if refs:
                source = (refs[0].get('ReferencedSOPInstanceUID', ''), refs[0].get('ReferencedFrameNumber'))
        tracking = next((_text(c) for c in _find(children, TRACKING_IDENTIFIER)), '')
        groups.append({'finding': finding, 'percent': certainty, 'source': source, 'tracking': tracking})
    evaluations = _find(top, QUALITATIVE_EVALUATIONS)
    evaluation_items = _children(evaluations[0]) if evaluations else []
    priority = next((_code(c.get('ConceptCodeSequence')) for c in _find(evaluation_items, PRIORITY)), None)
    review = bool(_find(evaluation_items, RECOMMENDATION))
    reason = next((_text(c) for c in _find(evaluation_items, COMMENT)), None)
    parameter_map = dict(parameters)
    return {
        'algorithm_name': next((_text(c) for c in _find(items, ALGORITHM_NAME)), ''),
        'algorithm_version': next((_text(c) for c in _find(items, ALGORITHM_VERSION)), ''),
        'observer': next((_text(c) for c in _find(top, DEVICE_OBSERVER_NAME)), ''),
        'parameters': parameters,
        'demonstration': parameter_map.get('demonstration') == 'true',
        'notice': parameter_map.get('notice'),
        'groups': groups,
        'priority': priority[2] if priority else 'unknown',
        'review': review,
        'review_reason': reason,
    }


def _e(value):
    # Bidi and control characters neutralised first (a U+202E in a PatientName would show it reversed), then escaped
    # for text and quoted attribute values alike.
    return html.escape(t3_display.neutralise('' if value is None else str(value)), quote=True)


def _by_image(groups):
    """Findings grouped by source image (frame), in SR order, each group most probable first."""
    order = []
    images = {}
    for group in groups:
        key = group['source'] or ('(study)', None)
        if key not in images:
            images[key] = []
            order.append(key)
        images[key].append(group)
    return [(key, sorted(images[key], key=lambda g: -(g['percent'] or 0))) for key in order]


def render_report_html(tags, study_link=None, worklist_link=None):
    """One self-contained HTML page (no scripts) for the SR's simplified tags."""
    result = parse_ai_result(tags)
    patient = tags.get('PatientName', '') or '(no name)'
    title = 'AI triage report: %s' % (tags.get('StudyDescription') or 'study')
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<title>%s</title>' % _e(title),
           '<style>body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;max-width:70em;color:#222}'
           'table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}'
           'th{background:#f3f3f3}.demo{background:#fff3cd;border:2px solid #c90;padding:.6em;margin:.8em 0;font-weight:bold}'
           '.p-emergency{color:#fff;background:#b00020}.p-urgent{background:#f5a623}.p-routine{background:#dfe9f3}'
           '.badge{padding:.1em .5em;border-radius:3px}.review{color:#b00020;font-weight:bold}.num{text-align:right}'
           'code{font-size:90%}</style></head><body>']
    out.append('<h1>%s</h1>' % _e(title))
    links = []
    if study_link:
        links.append('<a id="t3-study-link" href="%s">Study in Orthanc Explorer</a>' % _e(study_link))
    if worklist_link:
        links.append('<a id="t3-worklist-link" href="%s">Triage worklist</a>' % _e(worklist_link))
    if links:
        out.append('<p>%s</p>' % ' · '.join(links))
    if result['demonstration']:
        out.append('<div class="demo" id="t3-demo-notice">%s</div>'
                   % _e(result['notice'] or 'Demonstration model: trained on synthetic images, not a medical device'))
    out.append('<table><tr><th>Patient</th><td>%s (%s)</td></tr>' % (_e(patient), _e(tags.get('PatientID', ''))))
    out.append('<tr><th>Study</th><td>%s %s</td></tr>' % (_e(tags.get('StudyDescription', '')), _e(tags.get('StudyDate', ''))))
    out.append('<tr><th>Report</th><td>%s %s (SR, verification: %s)</td></tr>'
               % (_e(tags.get('ContentDate', '')), _e(tags.get('ContentTime', '')), _e(tags.get('VerificationFlag', ''))))
    priority = result['priority'].lower()
    out.append('<tr><th>Priority</th><td><span id="t3-priority" class="badge p-%s">%s</span></td></tr>'
               % (_e(priority), _e(result['priority'])))
    if result['review']:
        out.append('<tr><th>Human review</th><td id="t3-review" class="review">needed: %s</td></tr>'
                   % _e(result['review_reason'] or 'the two models disagree'))
    else:
        out.append('<tr><th>Human review</th><td id="t3-review">not flagged</td></tr>')
    out.append('</table>')

    out.append('<h2>Findings</h2>')
    for index, (key, groups) in enumerate(_by_image(result['groups'])):
        uid, frame = key
        where = 'Image %d' % (index + 1) if uid != '(study)' else 'Study'
        if frame:
            where += ', frame %s' % frame
        out.append('<h3>%s <small><code>%s</code></small></h3>' % (_e(where), _e(uid)))
        out.append('<table class="t3-findings"><tr><th>Finding</th><th>Probability</th><th>Code</th></tr>')
        for group in groups:
            scheme, value, meaning = group['finding'] or ('', '', '?')
            percent = '' if group['percent'] is None else '%.1f %%' % group['percent']
            out.append('<tr><td>%s</td><td class="num">%s</td><td><code>%s %s</code></td></tr>'
                       % (_e(meaning), _e(percent), _e(scheme), _e(value)))
        out.append('</table>')

    out.append('<h2>Algorithm</h2><table id="t3-algorithm">')
    out.append('<tr><th>Name</th><td>%s</td></tr>' % _e(result['algorithm_name']))
    out.append('<tr><th>Version</th><td>%s</td></tr>' % _e(result['algorithm_version']))
    params = dict(result['parameters'])
    for key in MAIN_PARAMETERS:
        if key in params:
            out.append('<tr><th>%s</th><td><code>%s</code></td></tr>' % (_e(key), _e(params[key])))
    lambdas = [(k, v) for k, v in result['parameters'] if k.startswith('lambda[')]
    if lambdas:
        out.append('<tr><th>λ<sub>B</sub> per batch</th><td>%s</td></tr>'
                   % ', '.join('<code>%s</code>' % _e(v) for _, v in lambdas))
    out.append('</table>')
    per_image = [(k, v) for k, v in result['parameters'] if k.startswith('image')]
    if per_image:
        out.append('<details><summary>Per-image coefficients (%d)</summary><ul>' % len(per_image))
        out.extend('<li><code>%s = %s</code></li>' % (_e(k), _e(v)) for k, v in per_image)
        out.append('</ul></details>')
    out.append('<p><small>Written by %s. AI results are unverified until a physician reads the study.</small></p>'
               % _e(result['observer'] or 'orthanc-t3'))
    out.append('</body></html>')
    return '\n'.join(out)
