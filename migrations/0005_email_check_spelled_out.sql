-- Issue 13 (point 6): the email check spells out the whitespace it refuses (JavaScript's \s, src/email-shape.ts)
-- instead of [:space:], so that it agrees with the push validator whatever the database's locale. NOT VALID: rows
-- written under the old check (a no-break space, say) must not stop the upgrade; they are already dead letters, and
-- any new write to them is checked.
ALTER TABLE "intercom"."contacts" DROP CONSTRAINT "contacts_email_format_check";--> statement-breakpoint
ALTER TABLE "intercom"."contacts" ADD CONSTRAINT "contacts_email_format_check" CHECK ("intercom"."contacts"."email" is null or "intercom"."contacts"."email" ~ '^[^@\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+@[^@\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+\.[^@\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$') NOT VALID;
