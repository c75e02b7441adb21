# The plugin's audit trail: every settings change, re-run, token rotation and refused attempt on the /t3/* routes,
# one JSON object per line, appended, flushed and fsync'ed before the answer is sent, so it survives a crash or a
# restart of Orthanc or of the sidecar. Retention is bounded by size: when the file passes MAX_BYTES it becomes
# `<file>.1` (replacing the previous one), so at most twice MAX_BYTES are kept and the newest entries always are.
#
# The fields follow an IHE ATNA audit message (DICOM PS3.15 A.5): when (eventDateTime), what (eventId,
# eventActionCode, participantObject), outcome (eventOutcome 0 success / 4 minor failure / 8 serious failure, and
# outcomeDescription), who (activeParticipant.userId: the Orthanc user; the plugin's gRPC token id for what the
# sidecar saw) and from where (activeParticipant.networkAccessPointId: the client's IP address). Changes are dotted
# keys with their values before and after, secrets masked (t3_config_secrets.py); token changes name token ids only.
# No patient data: studies are named by their Orthanc id.
#
# Pure Python (no orthanc module), so it is tested without Orthanc.

import datetime
import json
import os
import threading

MAX_BYTES = 8 * 1024 * 1024
# ATNA EventOutcomeIndicator.
SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE = 0, 4, 8
# ATNA EventActionCode: Create, Read, Update, Delete, Execute.
ACTION = {'settings-change': 'U', 'token-rotation': 'U', 'study-rerun': 'E', 'access-refused': 'E', 'feedback-exported': 'R'}


def entry(event_id, outcome, description, user, address, target, changes=None, extra=None):
    """One audit record. `target` names the object acted on: {'type': 'configuration' | 'study', 'id': …}."""
    record = {
        'eventDateTime': datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z',
        'eventId': event_id,
        'eventActionCode': ACTION.get(event_id, 'E'),
        'eventOutcome': outcome,
        'outcomeDescription': description,
        'activeParticipant': {'userId': user, 'userIsRequestor': True, 'networkAccessPointId': address,
                              'networkAccessPointTypeCode': '2' if address else None},
        'auditSource': {'auditSourceId': 'orthanc-t3 plugin', 'auditSourceTypeCode': '4'},
        'participantObject': target,
    }
    if changes is not None:
        record['changes'] = changes
    if extra:
        record.update(extra)
    return record


class AuditLog(object):
    def __init__(self, path, max_bytes=MAX_BYTES):
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def append(self, record):
        """Writes one record durably; raises OSError when it cannot (the caller reports it)."""
        line = (json.dumps(record, sort_keys=True, ensure_ascii=True) + '\n').encode('utf-8')
        with self._lock:
            folder = os.path.dirname(self.path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            try:
                size = os.path.getsize(self.path)
            except OSError:
                size = 0
            if size and size + len(line) > self.max_bytes:
                os.replace(self.path, self.path + '.1')
            # O_APPEND: each record lands whole at the end, whatever else writes the file.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, limit=1000):
        """The newest `limit` records, newest first; a torn last line (a crash while writing) is skipped."""
        records = []
        with self._lock:
            for name in (self.path + '.1', self.path):
                try:
                    with open(name, 'rb') as handle:
                        lines = handle.read().decode('utf-8', 'replace').splitlines()
                except OSError:
                    continue
                for line in lines:
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        continue
        records.reverse()
        return records[:limit]


def _paths(value, prefix=''):
    # Leaves of a JSON value as {dotted key: value}; arrays are leaves (a PUT replaces an array whole).
    if isinstance(value, dict) and value:
        out = {}
        for key, child in value.items():
            out.update(_paths(child, prefix + '.' + key if prefix else key))
        return out
    return {prefix: value} if prefix else {}


def config_diff(before, after, keys):
    """[{key, before, after}] for the dotted `keys` (and below) whose values differ; both sides already masked."""
    old, new = _paths(before), _paths(after)
    changed = []
    for key in sorted(set(old) | set(new)):
        if not any(key == k or key.startswith(k + '.') for k in keys):
            continue
        if old.get(key) != new.get(key):
            changed.append({'key': key, 'before': old.get(key), 'after': new.get(key)})
    return changed


def token_ids(tokens):
    return sorted(t.get('tokenId') for t in (tokens or []) if isinstance(t, dict) and t.get('tokenId'))


def token_rotation(before, after):
    """{'added': [token ids], 'revoked': [token ids]} between two masked configurations' grpc.tokens."""
    old = set(token_ids(((before or {}).get('grpc') or {}).get('tokens')))
    new = set(token_ids(((after or {}).get('grpc') or {}).get('tokens')))
    return {'added': sorted(new - old), 'revoked': sorted(old - new)}
