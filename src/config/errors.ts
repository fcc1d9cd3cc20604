import { PaymentError } from '../internal/errors.js';

/**
 * A configuration the service cannot start with. `problems` holds one line per problem
 * (`field: found …, expected …`), so an operator fixes them all in one go; the message is the
 * same lines joined by newlines.
 */
export class ConfigError extends PaymentError {
  override name = 'ConfigError';
  readonly problems: string[];

  constructor(problems: string[], options: { cause?: unknown } = {}) {
    super('invalid_config', problems.join('\n'), options);
    this.problems = problems;
  }
}
