import { OrthancError } from './orthanc-client';

/** Why the sidecar cannot use Orthanc, in the terms an administrator fixes it by. */
export type OrthancProblem =
  | 'authentication'
  | 'connection-refused'
  | 'host-not-found'
  | 'timeout'
  | 'not-orthanc'
  | 'orthanc-error'
  | 'unreachable';

export interface OrthancDiagnosis {
  problem: OrthancProblem;
  /** The setting to change (and its environment variable). */
  setting: string;
  /** One line for the log, /readyz and GetStatus: what is wrong, and what to set. */
  message: string;
}

const URL_SETTING = 'T3.orthanc.url (T3_ORTHANC_URL)';
const CREDENTIALS_SETTING = 'T3.orthanc.username/password (T3_ORTHANC_USERNAME/T3_ORTHANC_PASSWORD)';

/**
 * Tells a refused login, a refused connection, an unknown host, a timeout and a server that is not Orthanc apart.
 * `withCredentials` says whether credentials were sent (a 401 then means they are wrong, else that they are missing).
 */
export function diagnoseOrthancFailure(err: unknown, url: string, withCredentials: boolean): OrthancDiagnosis {
  const detail = err instanceof Error ? err.message : String(err);
  const diagnosis = (problem: OrthancProblem, setting: string, message: string): OrthancDiagnosis => ({ problem, setting, message });
  if (!(err instanceof OrthancError)) return diagnosis('unreachable', URL_SETTING, `cannot use Orthanc at ${url}: ${detail}; check ${URL_SETTING}`);
  if (err.status === 401 || err.status === 403) {
    const what = withCredentials ? 'refused the configured credentials' : 'requires a login and none is configured';
    return diagnosis('authentication', CREDENTIALS_SETTING, `Orthanc at ${url} ${what} (HTTP ${err.status}): set ${CREDENTIALS_SETTING} to a user of Orthanc's RegisteredUsers`);
  }
  if (err.kind === 'not-orthanc' || err.status === 404 || err.status === 405) {
    return diagnosis('not-orthanc', URL_SETTING, `the server at ${url} is not Orthanc's REST API (${detail}): set ${URL_SETTING} to Orthanc's HTTP address (e.g. http://127.0.0.1:8042)`);
  }
  if (err.kind === 'timeout') {
    return diagnosis('timeout', `${URL_SETTING} or T3.orthanc.timeoutMs`, `Orthanc at ${url} did not answer in time: check ${URL_SETTING} (a firewall dropping packets?) or raise T3.orthanc.timeoutMs`);
  }
  if (err.networkCode === 'ECONNREFUSED') {
    return diagnosis('connection-refused', URL_SETTING, `nothing accepts connections at ${url} (ECONNREFUSED): start Orthanc, or set ${URL_SETTING} to its HTTP port`);
  }
  if (err.networkCode === 'ENOTFOUND' || err.networkCode === 'EAI_AGAIN') {
    return diagnosis('host-not-found', URL_SETTING, `the host of ${url} is unknown (DNS ${err.networkCode}): fix the host name in ${URL_SETTING}`);
  }
  if (err.kind === 'http') {
    return diagnosis('orthanc-error', 'Orthanc (see its log)', `Orthanc at ${url} failed: ${detail}`);
  }
  return diagnosis('unreachable', URL_SETTING, `cannot reach Orthanc at ${url} (${err.networkCode ?? detail}): check ${URL_SETTING}`);
}
