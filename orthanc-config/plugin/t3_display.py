# Text from studies (patient names, descriptions, error texts) as the plugin's pages show it. A DICOM value may carry
# Unicode bidirectional controls: a PatientName with U+202E (RIGHT-TO-LEFT OVERRIDE) shows its letters reversed, and
# the name a radiologist reads is not the one stored. Such controls, and C0/C1 control characters, are shown as
# U+FFFD, so the tampering is visible instead of silently effective. Escaping for HTML is a separate step (each
# writer escapes for its context). Pure Python; explorer.js does the same in the browser.

import re

REPLACEMENT = u'\ufffd'
# ALM, LRM, RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI; C0 controls, DEL and C1 controls.
_UNSAFE = re.compile(u'[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u0000-\u001f\u007f-\u009f]')


def neutralise(text):
    """`text` with bidi and control characters replaced by U+FFFD; anything that is not a string is returned as is."""
    if not isinstance(text, str):
        return text
    return _UNSAFE.sub(REPLACEMENT, text)


def neutralise_all(value):
    """The same for every string inside a JSON-like value (dicts, lists), keys left alone."""
    if isinstance(value, dict):
        return dict((k, neutralise_all(v)) for k, v in value.items())
    if isinstance(value, list):
        return [neutralise_all(v) for v in value]
    return neutralise(value)
