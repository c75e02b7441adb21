# How the plugin's pages write DICOM values for people: person names without carets, dates as YYYY-MM-DD, times with
# their zone, the patient's age, numbers with the digits that mean something. One definition for the worklist
# (t3_worklist.py), the report page (t3_report_html.py) and their tests. Pure Python (no orthanc module).

import datetime
import re


def person_name(value):
    """A DICOM PN ("Family^Given^Middle^Prefix^Suffix", maybe with "=" ideographic/phonetic groups) as a reader writes
    it: "Family, Given Middle", prefix and suffix around it. The first group only; '' for an empty name."""
    if not isinstance(value, str) or not value.strip():
        return ''
    alphabetic = value.split('=')[0]
    parts = [p.strip() for p in alphabetic.split('^')] + [''] * 5
    family, given, middle, prefix, suffix = parts[:5]
    first = ' '.join(p for p in (given, middle) if p)
    name = ', '.join(p for p in (family, first) if p)
    name = ' '.join(p for p in (prefix, name, suffix) if p)
    return name or value.replace('^', ' ').strip()


def _date_parts(value):
    # DICOM DA "20040826", and the old ACR-NEMA form "2004.08.26" that some files still carry.
    if not isinstance(value, str):
        return None
    match = re.match(r'^\s*(\d{4})\.?(\d{2})\.?(\d{2})\s*$', value)
    if not match:
        return None
    try:
        return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def dicom_date(value):
    """"2004-08-26" for a DICOM date (either form); the value as given when it is not one; '' for none."""
    parsed = _date_parts(value)
    if parsed is None:
        return value.strip() if isinstance(value, str) else ''
    return parsed.isoformat()


def dicom_time(value):
    """"16:20:54" for a DICOM TM ("162054.123456", "1620", old "16:20:54"); the value as given otherwise."""
    if not isinstance(value, str):
        return ''
    digits = re.sub(r'[:\s]', '', value).split('.')[0]
    if not re.match(r'^\d{2}(\d{2}){0,2}$', digits):
        return value.strip()
    hours, minutes, seconds = digits[0:2], digits[2:4] or '00', digits[4:6]
    return '%s:%s%s' % (hours, minutes, ':' + seconds if seconds else '')


def zone(offset):
    """"UTC+01:00" for a DICOM TimezoneOffsetFromUTC ("+0100"); None when absent or unreadable."""
    if not isinstance(offset, str):
        return None
    match = re.match(r'^\s*([+-])(\d{2})(\d{2})\s*$', offset)
    if not match:
        return None
    return 'UTC%s%s:%s' % match.groups()


def age(birth_date, on_date):
    """The patient's age on the study date as DICOM writes it for reading ("34 Y", "8 M", "12 D"); '' when unknown."""
    born, on = _date_parts(birth_date), _date_parts(on_date)
    if born is None or on is None or on < born:
        return ''
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if years >= 2:
        return '%d Y' % years
    months = (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)
    if months >= 1:
        return '%d M' % months
    return '%d D' % (on - born).days


def dicom_age(value):
    """A DICOM AS ("034Y", "008M") as "34 Y"; '' when it is not one."""
    match = re.match(r'^\s*(\d{3})([DWMY])\s*$', value or '') if isinstance(value, str) else None
    return '%d %s' % (int(match.group(1)), match.group(2)) if match else ''


def decimal(value, digits=3):
    """A number from the SR's text as people read it: `digits` decimals, trailing zeros dropped ("0.4125", "1.1");
    the text as given when it is not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return '' if value is None else str(value)
    if number != number or number in (float('inf'), float('-inf')):
        return str(value)
    text = ('%.' + str(digits) + 'f') % number
    if '.' in text:
        text = text.rstrip('0').rstrip('.')
    return '0' if text in ('-0', '') else text


def percent(value):
    """A probability given in percent (the SR's Certainty of Finding, 0–100) with one decimal: "99.3 %"."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ''
    return '%.1f %%' % number
