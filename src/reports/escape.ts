/**
 * HTML escaping for everything the status page shows. Names, emails and error messages come from users and from
 * Intercom, so every value goes through here, in text and in double-quoted attributes alike (OWASP XSS prevention
 * rule #1 and #2: https://cheatsheetseries.owasp.org/cheatsheets/Cross_Site_Scripting_Prevention_Cheat_Sheet.html).
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

// An email anywhere in free text (error messages quote them): local@domain, stopping at spaces, quotes and brackets.
const EMAIL = /[^\s@<>"'`()[\]{},;:]+@[^\s@<>"'`()[\]{},;:]+\.[^\s@<>"'`()[\]{},;:]+/g;

/** Free text with emails masked, for when personal data may not be shown (LOG_PII=false). */
export function maskEmails(text: string): string {
  return text.replace(EMAIL, '[email hidden]');
}
