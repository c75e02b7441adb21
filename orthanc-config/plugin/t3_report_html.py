# orthanc-t3: the human-readable view of an AI-result SR (TID 1500, written by the sidecar's src/report/build-sr.ts).
#
# Pure Python (no orthanc module): it renders Orthanc's /instances/{id}/simplified-tags JSON of the SR as one HTML
# page, so it is tested without Orthanc. What it shows comes from the SR's content tree only: findings with their
# probabilities and codes per image, the priority and review flag, the algorithm with its parameters, and the
# demonstration-model notice when the algorithm description carries one.

import datetime
import html

import t3_display
import t3_format

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
PRIORITY_REASON = ('99T3', 'PRIORITYREASON')
# Priority codes (src/report/codes.ts) → the worklist's words: the SR's meaning for urgent is SNOMED's "Urgency".
PRIORITY_WORDS = {('SCT', '25876001'): 'emergency', ('SCT', '103391001'): 'urgent', ('99T3', 'ROUTINE'): 'routine'}
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
    priority_reason = next((_text(c) for c in _find(evaluation_items, PRIORITY_REASON)), None)
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
        # emergency | urgent | routine | unknown: what the page styles and says.
        'priority_word': PRIORITY_WORDS.get((priority[0], priority[1]), 'unknown') if priority else 'unknown',
        'priority_reason': priority_reason,
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


# Parameters that are numbers, shown rounded (the SR keeps every digit; the tooltip shows them).
NUMERIC_PARAMETERS = ('tPt', 'tFt', 'lambdaMin', 'lambdaMax', 'gamma', 'jsThreshold', 'eps', 'extTau', 'extDelta')


def _number(value, digits=3):
    """A rounded number with the SR's full text in its tooltip."""
    shown = t3_format.decimal(value, digits)
    if shown == value:
        return '<code>%s</code>' % _e(value)
    return '<code title="%s">%s</code>' % (_e(value), _e(shown))


def _report_time(tags):
    """The SR's content date and time as an instant, in this host's local time with its zone, and the SR's own
    writing: the sidecar writes it in the study's offset (TimezoneOffsetFromUTC) when the images carry one, else UTC."""
    date, time = tags.get('ContentDate', ''), tags.get('ContentTime', '')
    day = t3_format.dicom_date(date)
    clock = t3_format.dicom_time(time)
    offset = tags.get('TimezoneOffsetFromUTC')
    zone = t3_format.zone(offset) or 'UTC'
    try:
        written = datetime.datetime.strptime('%s %s' % (day, clock if clock.count(':') == 2 else clock + ':00'), '%Y-%m-%d %H:%M:%S')
        minutes = 0
        if t3_format.zone(offset):
            sign = -1 if offset.strip().startswith('-') else 1
            minutes = sign * (int(offset.strip()[1:3]) * 60 + int(offset.strip()[3:5]))
        instant = written.replace(tzinfo=datetime.timezone(datetime.timedelta(minutes=minutes)))
        local = instant.astimezone()
        local_text = '%s %s' % (local.strftime('%Y-%m-%d %H:%M:%S'), local.tzname() or local.strftime('UTC%z'))
    except (ValueError, TypeError):
        return '%s %s' % (day, clock)
    return '%s (written in the SR as %s %s %s)' % (local_text, day, clock, zone)


def _lambda_direction(params):
    """The coefficient map in words: which end of [lambdaMin, lambdaMax] is agreement and which is the expert."""
    try:
        low, high, gamma = float(params['lambdaMin']), float(params['lambdaMax']), float(params.get('gamma', '1'))
    except (KeyError, ValueError):
        return None
    agree, disagree = (low, high) if gamma >= 0 else (high, low)
    def side(value):
        if value <= 0.25:
            return 'near the generalist'
        if value >= 0.75:
            return 'near the expert'
        return 'between the two models'
    return ('λ is the merging weight: 0 is the generalist model, 1 the fine-tuned expert. '
            'λ = lambdaMin + (lambdaMax − lambdaMin)·σ(gamma·(JS − jsThreshold)): it is about %s (%s) where the two models '
            'agree and moves towards %s (%s) as they disagree. lambdaMin is therefore not a lower bound, and may be the '
            'larger of the two.' % (t3_format.decimal(agree), side(agree), t3_format.decimal(disagree), side(disagree)))


def _image_keys(per_image):
    """The images (keys "uid" or "uid#frame") of the per-image parameters, in SR order, each once."""
    keys = []
    for k, _ in per_image:
        key = k[k.index('[') + 1:-1] if '[' in k and k.endswith(']') else k
        if key not in keys:
            keys.append(key)
    return keys


def render_report_html(tags, study_link=None, worklist_link=None, image_names=None):
    """One self-contained HTML page (no scripts) for the SR's simplified tags. `image_names`: SOP Instance UID →
    how a reader names the image ("Series 2 (CT chest), image 14"); the UID is the fallback."""
    result = parse_ai_result(tags)
    image_names = image_names or {}
    patient = t3_format.person_name(tags.get('PatientName', '')) or '(no name)'
    study_date = t3_format.dicom_date(tags.get('StudyDate', ''))
    description = tags.get('StudyDescription') or 'study'
    title = 'AI triage report: %s' % ' · '.join(p for p in (patient, description, study_date) if p)
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<title>%s</title>' % _e(title),
           '<style>body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;max-width:70em;color:#222}'
           'table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}'
           'th{background:#f3f3f3}.demo{background:#fff3cd;border:2px solid #c90;padding:.6em;margin:.8em 0;font-weight:bold}'
           '.p-emergency{color:#fff;background:#b00020;font-weight:bold}.p-urgent{background:#f5a623;color:#000;font-weight:bold}'
           '.p-routine{background:#dfe9f3;color:#234}.p-unknown{background:#eee;color:#444}'
           '.badge{padding:.1em .5em;border-radius:3px}.review{color:#b00020;font-weight:bold}.num{text-align:right}'
           'h1{font-size:1.5em}h3 small{font-weight:normal;color:#666}.note{color:#444;max-width:60em}'
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
    out.append('<table><tr><th>Patient</th><td id="t3-patient">%s (%s)</td></tr>' % (_e(patient), _e(tags.get('PatientID', ''))))
    study_time = t3_format.dicom_time(tags.get('StudyTime', ''))
    out.append('<tr><th>Study</th><td id="t3-study">%s · %s%s</td></tr>'
               % (_e(tags.get('StudyDescription', '') or '(no description)'), _e(study_date or 'no date'),
                  (' ' + _e(study_time)) if study_time else ''))
    out.append('<tr><th>Report</th><td id="t3-report-time">%s (SR, verification: %s)</td></tr>'
               % (_e(_report_time(tags)), _e(tags.get('VerificationFlag', ''))))
    word = result['priority_word']
    out.append('<tr><th>Priority</th><td><span id="t3-priority" class="badge p-%s">%s</span>%s</td></tr>'
               % (_e(word), _e(word.capitalize() if word != 'unknown' else result['priority']),
                  (' <span id="t3-priority-reason">%s</span>' % _e(result['priority_reason'])) if result['priority_reason'] else ''))
    if result['review']:
        out.append('<tr><th>Human review</th><td id="t3-review" class="review">needed: %s</td></tr>'
                   % _e(result['review_reason'] or 'the two models disagree'))
    else:
        out.append('<tr><th>Human review</th><td id="t3-review">not flagged</td></tr>')
    out.append('</table>')

    out.append('<h2>Findings</h2>')
    for index, (key, groups) in enumerate(_by_image(result['groups'])):
        uid, frame = key
        if uid == '(study)':
            where = 'Whole study'
        else:
            where = image_names.get(uid) or 'Image %d' % (index + 1)
        if frame:
            where += ', frame %s' % frame
        uid_note = '' if uid == '(study)' else ' <small title="SOP Instance UID %s">(UID …%s)</small>' % (_e(uid), _e(uid[-8:]))
        out.append('<h3 class="t3-image">%s%s</h3>' % (_e(where), uid_note))
        out.append('<table class="t3-findings"><tr><th>Finding</th><th>Probability</th><th>Code</th></tr>')
        for group in groups:
            scheme, value, meaning = group['finding'] or ('', '', '?')
            percent = '' if group['percent'] is None else t3_format.percent(group['percent'])
            out.append('<tr><td>%s</td><td class="num">%s</td><td><code>%s %s</code></td></tr>'
                       % (_e(meaning), _e(percent), _e(scheme), _e(value)))
        out.append('</table>')

    out.append('<h2>Algorithm</h2><table id="t3-algorithm">')
    out.append('<tr><th>Name</th><td>%s</td></tr>' % _e(result['algorithm_name']))
    out.append('<tr><th>Version</th><td>%s</td></tr>' % _e(result['algorithm_version']))
    params = dict(result['parameters'])
    for key in MAIN_PARAMETERS:
        if key in params:
            value = _number(params[key], 4) if key in NUMERIC_PARAMETERS else '<code>%s</code>' % _e(params[key])
            out.append('<tr><th>%s</th><td>%s</td></tr>' % (_e(key), value))
    direction = _lambda_direction(params)
    if direction:
        out.append('<tr><th>λ range</th><td class="note" id="t3-lambda-direction">%s</td></tr>' % _e(direction))
    lambdas = [(k, v) for k, v in result['parameters'] if k.startswith('lambda[')]
    if lambdas:
        out.append('<tr><th>λ<sub>B</sub> per batch</th><td id="t3-batch-lambdas">%s</td></tr>'
                   % ', '.join(_number(v) for _, v in lambdas))
    out.append('</table>')
    per_image = [(k, v) for k, v in result['parameters'] if k.startswith('image')]
    if per_image:
        values = dict(per_image)
        keys = _image_keys(per_image)
        out.append('<details id="t3-per-image"><summary>Per-image coefficients (%d %s)</summary>'
                   % (len(keys), 'image' if len(keys) == 1 else 'images'))
        out.append('<table><tr><th>Image</th><th>λ</th><th>JS divergence</th></tr>')
        for key in keys:
            uid, _, frame = key.partition('#')
            name = image_names.get(uid) or uid
            if frame:
                name += ', frame %s' % frame
            js = values.get('imageJs[%s]' % key)
            out.append('<tr><td title="%s">%s</td><td class="num">%s</td><td class="num">%s</td></tr>'
                       % (_e(key), _e(name), _number(values.get('imageLambda[%s]' % key, '')),
                          _number(js) if js is not None else '—'))
        out.append('</table></details>')
    out.append('<p><small>Written by %s. AI results are unverified until a physician reads the study.</small></p>'
               % _e(result['observer'] or 'orthanc-t3'))
    out.append('</body></html>')
    return '\n'.join(out)
