import { excerpt, excerptDeep, TEXT_EXCERPT_CHARS } from '../../log-excerpt.ts';

/**
 * What the error columns keep of a message or of its details. Messages quote what Intercom, Postgres or an
 * application's row said (an attribute name, a webhook's topic), with no size limit of their own; a run once stored a
 * 500,080-character error, which every report and page then had to carry. Bounded here, at the writes, so every
 * caller that turns an error into stored text gets the same rule.
 */
export function storedText(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : excerpt(text, TEXT_EXCERPT_CHARS);
}

/** A jsonb parameter whose strings (keys included) are bounded like storedText; null for none. */
export function storedJson(value: Record<string, unknown> | null | undefined): string | null {
  return value === null || value === undefined ? null : JSON.stringify(excerptDeep(value, 8, TEXT_EXCERPT_CHARS));
}
