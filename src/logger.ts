import { pino, type DestinationStream, type Logger } from 'pino';
import { boundLine } from './log-excerpt.ts';

export type { Logger } from 'pino';

/**
 * Paths pino blanks before a line is written. Tokens and Authorization headers are always hidden; personal data
 * (email, phone, name) is hidden unless LOG_PII=true, because logs usually travel further than the database does.
 */
const SECRET_PATHS = [
  'token',
  'accessToken',
  'access_token',
  '*.token',
  '*.accessToken',
  '*.access_token',
  'authorization',
  'Authorization',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'clientSecret',
  '*.clientSecret',
  'config.intercom.accessToken',
  'config.intercom.clientSecret',
  'config.statusPage.token',
];

// email and phone are personal wherever they appear. `name` is too common a key (jobs, modules, attributes) to blank
// everywhere, so it is redacted where it names a person: on contact-shaped objects and in field-change records.
const PII_ANYWHERE = ['email', 'phone'].flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*[*].${f}`, `*.*[*].${f}`]);
const PERSON_OBJECTS = ['contact', 'contacts[*]', 'lead', 'user', 'row', 'rows[*]', 'local', 'remote', 'snapshot', 'body'];
const PII_NAME = [
  ...PERSON_OBJECTS.flatMap((o) => [`${o}.name`, `*.${o}.name`]),
  'changes.name',
  '*.changes.name',
  'changes.email',
  'changes.phone',
];
const PII_PATHS = [...PII_ANYWHERE, ...PII_NAME];

export interface LoggerOptions {
  level: string;
  pii: boolean;
  /** Extra strings to scrub wherever they appear (the access token itself, in case it hides in a message). */
  secrets?: readonly string[];
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const secrets = (opts.secrets ?? []).filter((s) => s.length >= 6);
  return pino(
    {
      level: opts.level,
      base: { service: 'intercom-sync' },
      redact: { paths: opts.pii ? SECRET_PATHS : [...SECRET_PATHS, ...PII_PATHS], censor: '[redacted]' },
      // Every line is bounded (src/log-excerpt.ts), whatever carried the outside value: fields, child bindings,
      // errors or the message. Child bindings bypass pino's formatters, so this is done on the finished line.
      hooks: { streamWrite: (line: string) => boundLine(secrets.length > 0 ? scrub(line, secrets) : line) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

function scrub(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const s of secrets) out = out.split(s).join('[redacted]');
  return out;
}
