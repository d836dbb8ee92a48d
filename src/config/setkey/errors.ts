/**
 * Typed errors of the setkey script and policy-string parsers.
 * Printed as `file:line:column: message (near 'token')` (racoon-style
 * position, 1-based line and column).
 */

export interface SourcePos {
  line: number; // 1-based
  column: number; // 1-based
}

export interface SetkeyParseError {
  file: string;
  line: number;
  column: number;
  message: string;
  /** The offending token text ('' at end of input). */
  near: string;
}

export function formatParseError(e: SetkeyParseError): string {
  const near = e.near === '' ? 'end of input' : `'${e.near}'`;
  return `${e.file}:${e.line}:${e.column}: ${e.message} (near ${near})`;
}

/** Thrown inside the parser only; caught at the API boundary and returned as a value. */
export class SetkeySyntaxError extends Error {
  constructor(
    readonly pos: SourcePos,
    message: string,
    readonly near: string,
  ) {
    super(message);
    this.name = 'SetkeySyntaxError';
  }
}
