/** A thin client for the simulator's control API: acting as Intercom's own users would, outside our budget. */
export function simControl(baseUrl: string) {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${baseUrl}/__sim${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`simulator ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }
  return {
    editContact: (id: string, patch: Record<string, unknown>) => call('PATCH', `/contacts/${id}`, patch),
    createContact: (fields: Record<string, unknown>) => call<{ contact: { id: string } }>('POST', '/contacts', fields),
    merge: (from: string, into: string) => call('POST', '/merge', { from, into }),
    stats: () => call<{ total: number; rate_limited: number }>('GET', '/stats'),
  };
}
