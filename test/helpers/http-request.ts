/** One HTTP request of a test, answered with the status, the text, the JSON when the text is JSON, and the headers. */
export interface HttpAnswer {
  status: number;
  text: string;
  /** The body parsed as JSON; null when it is not JSON. */
  json: any;
  headers: Headers;
}

export async function httpRequest(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const res = await fetch(url, { method: init.method ?? 'GET', body: init.body, headers: init.headers ?? {} });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, text, json, headers: res.headers };
}

/**
 * A request to the plugin's routes as its own pages send it: with the login, and a body as JSON (the plugin refuses a
 * state-changing request without one: cross-site forms send text/plain).
 */
export function pluginRequest(baseUrl: string, authorization: string | null, method: string, p: string, body?: string,
  headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const all: Record<string, string> = { ...(authorization ? { Authorization: authorization } : {}), ...headers };
  if (body !== undefined && !Object.keys(all).some((h) => h.toLowerCase() === 'content-type')) all['Content-Type'] = 'application/json';
  return httpRequest(baseUrl + p, { method, body, headers: all });
}
