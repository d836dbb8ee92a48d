/**
 * Lexer of setkey scripts (after ipsec-tools src/setkey/token.l).
 *
 * Tokens carry their 1-based line and column. Words are classified by the
 * parser according to context (a keyword of token.l is only a keyword where
 * the grammar expects one), except for the raw policy text after `-P`,
 * which the parser asks for with readPolicyText(): like token.l's S_PL
 * state, it runs to the next `;`.
 */
import { SetkeySyntaxError, type SourcePos } from './errors';

export type TokenKind =
  | 'WORD' // keywords, addresses, numbers, names: [A-Za-z0-9:%._,]+ and inner '-'
  | 'FLAG' // -P -A -E -C -R -m -u -f -r -lh -ls -bh -bs -ctx -k -4 -6 -n ...
  | 'QUOTED' // "string" (value without the quotes)
  | 'SEMI'
  | 'SLASH'
  | 'LBRACK'
  | 'RBRACK'
  | 'EOF';

export interface Token extends SourcePos {
  kind: TokenKind;
  /** The token's value: word text, flag without '-', quoted content. */
  text: string;
  /** The token as written (for error messages). */
  raw: string;
  offset: number;
}

const WORD_START = /[A-Za-z0-9:_,.%]/;
const WORD_CHAR = /[A-Za-z0-9:_,.%-]/;

export class SetkeyLexer {
  private offset = 0;
  private line = 1;
  private column = 1;
  private peeked: Token | undefined;

  constructor(readonly text: string) {}

  private advance(n: number): void {
    for (let i = 0; i < n; i++) {
      if (this.text[this.offset] === '\n') {
        this.line++;
        this.column = 1;
      } else {
        this.column++;
      }
      this.offset++;
    }
  }

  /** Position of a character offset (used for errors inside policy text). */
  positionOf(offset: number): SourcePos {
    let line = 1;
    let column = 1;
    for (let i = 0; i < offset && i < this.text.length; i++) {
      if (this.text[i] === '\n') {
        line++;
        column = 1;
      } else column++;
    }
    return { line, column };
  }

  private skipBlanks(): void {
    while (this.offset < this.text.length) {
      const c = this.text[this.offset];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.advance(1);
      else if (c === '#') {
        while (this.offset < this.text.length && this.text[this.offset] !== '\n') this.advance(1);
      } else break;
    }
  }

  peek(): Token {
    if (!this.peeked) this.peeked = this.scan();
    return this.peeked;
  }

  next(): Token {
    const t = this.peek();
    this.peeked = undefined;
    return t;
  }

  private scan(): Token {
    this.skipBlanks();
    const pos = { line: this.line, column: this.column, offset: this.offset };
    if (this.offset >= this.text.length) return { kind: 'EOF', text: '', raw: '', ...pos };
    const c = this.text[this.offset];
    const single: Record<string, TokenKind> = { ';': 'SEMI', '/': 'SLASH', '[': 'LBRACK', ']': 'RBRACK' };
    if (single[c]) {
      this.advance(1);
      return { kind: single[c], text: c, raw: c, ...pos };
    }
    if (c === '"') {
      const end = this.text.indexOf('"', this.offset + 1);
      if (end < 0) throw new SetkeySyntaxError(pos, 'unterminated quoted string', this.text.slice(this.offset, this.offset + 20));
      const raw = this.text.slice(this.offset, end + 1);
      this.advance(raw.length);
      return { kind: 'QUOTED', text: raw.slice(1, -1), raw, ...pos };
    }
    if (c === '-') {
      let end = this.offset + 1;
      while (end < this.text.length && /[A-Za-z0-9]/.test(this.text[end])) end++;
      const raw = this.text.slice(this.offset, end);
      if (raw.length === 1) throw new SetkeySyntaxError(pos, 'syntax error', raw);
      this.advance(raw.length);
      return { kind: 'FLAG', text: raw.slice(1), raw, ...pos };
    }
    if (WORD_START.test(c)) {
      let end = this.offset + 1;
      while (end < this.text.length && WORD_CHAR.test(this.text[end])) end++;
      const raw = this.text.slice(this.offset, end);
      this.advance(raw.length);
      return { kind: 'WORD', text: raw, raw, ...pos };
    }
    throw new SetkeySyntaxError(pos, 'syntax error', c);
  }

  /**
   * The policy text after -P, up to (not including) the next ';'
   * (token.l S_PL). Returns the text and its starting offset.
   */
  readPolicyText(): { text: string; offset: number } {
    if (this.peeked) throw new Error('readPolicyText after peek');
    const start = this.offset;
    let text = '';
    let i = start;
    while (i < this.text.length && this.text[i] !== ';') {
      if (this.text[i] === '#') {
        // a comment inside the policy: blanked, offsets kept
        while (i < this.text.length && this.text[i] !== '\n') {
          text += ' ';
          i++;
        }
        continue;
      }
      text += this.text[i];
      i++;
    }
    this.advance(i - start);
    return { text, offset: start };
  }
}
