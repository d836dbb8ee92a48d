/**
 * Splitting a byte stream (a unix SOCK_STREAM connection to the userspace
 * kernel) into PF_KEYv2 messages by sadb_msg_len (RFC 2367 §2.3.1: the
 * length of the whole message in 64-bit words).
 *
 * Resync policy: none. A stream has no message boundaries of its own, so once
 * a header is implausible (wrong version, length below the 16-byte header or
 * above the size guard) every later boundary is unknowable; scanning for the
 * next "02 xx" byte pair would happily cut a key or an address in half. The
 * framer therefore reports one PfKeyFramingError, discards everything after
 * it, and the transport closes the connection (the peer reconnects, as racoon
 * reopens its PF_KEY socket). Messages completed before the garbage are
 * delivered normally. A well-framed message whose *contents* are malformed is
 * not a framing error: it is passed on and decodeMessage reports it, and the
 * stream continues.
 */
import { PF_KEY_V2, PFKEY_UNIT64, SADB_MSG_LEN } from './constants';
import { PFKEY_MAX_MESSAGE } from './codec';

export class PfKeyFramingError extends Error {
  override readonly name = 'PfKeyFramingError';
  constructor(
    /** 'frame-version' | 'frame-len-short' | 'frame-too-large' | 'frame-truncated' */
    readonly rule: string,
    /** Byte offset in the stream (counted from the first byte ever pushed). */
    readonly offset: number,
    message: string,
  ) {
    super(`PF_KEY stream offset ${offset}: ${message}`);
  }
}

export interface FramerOptions {
  /** Largest message accepted, in bytes (default and ceiling: 65535 words = 524,280 bytes). */
  maxMessageSize?: number;
}

export interface FrameResult {
  /** Whole messages, each exactly sadb_msg_len·8 bytes (copies, safe to keep). */
  messages: Buffer[];
  /** Set once, on the push that met garbage; later pushes return nothing. */
  error?: PfKeyFramingError;
}

export class PfKeyFramer {
  private readonly max: number;
  private chunks: Buffer[] = [];
  private pending = 0;
  private consumed = 0; // stream offset of the first pending byte
  private broken: PfKeyFramingError | null = null;

  constructor(opts: FramerOptions = {}) {
    this.max = Math.min(opts.maxMessageSize ?? PFKEY_MAX_MESSAGE, PFKEY_MAX_MESSAGE);
    if (!(this.max >= SADB_MSG_LEN)) throw new RangeError(`maxMessageSize must be at least ${SADB_MSG_LEN}`);
  }

  /** The framing error met so far, if any (the stream is then dead). */
  get error(): PfKeyFramingError | null {
    return this.broken;
  }

  /** Bytes held while waiting for the rest of a message. */
  get buffered(): number {
    return this.pending;
  }

  push(chunk: Uint8Array): FrameResult {
    const messages: Buffer[] = [];
    if (this.broken) return { messages };
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk));
      this.pending += chunk.length;
    }
    for (;;) {
      const need = this.nextLength();
      if (need instanceof PfKeyFramingError) {
        this.broken = need;
        this.chunks = [];
        this.pending = 0;
        return { messages, error: need };
      }
      if (need === null || this.pending < need) return { messages };
      messages.push(this.take(need));
    }
  }

  /** At end of stream: a partial message left behind is an error. */
  end(): PfKeyFramingError | null {
    if (this.broken) return null;
    if (this.pending === 0) return null;
    this.broken = new PfKeyFramingError('frame-truncated', this.consumed, `stream ended inside a message (${this.pending} bytes buffered)`);
    this.chunks = [];
    this.pending = 0;
    return this.broken;
  }

  /** Length of the next message, null if the header is not complete yet. */
  private nextLength(): number | PfKeyFramingError | null {
    if (this.pending === 0) return null;
    const first = this.chunks[0];
    if (first[0] !== PF_KEY_V2) {
      return new PfKeyFramingError('frame-version', this.consumed, `sadb_msg_version ${first[0]}, expected PF_KEY_V2 (2)`);
    }
    if (this.pending < 6) return null;
    const head = this.peek(6);
    const len = head.readUInt16LE(4) * PFKEY_UNIT64;
    if (len < SADB_MSG_LEN) {
      return new PfKeyFramingError('frame-len-short', this.consumed + 4, `sadb_msg_len ${len / PFKEY_UNIT64} words is below the 16-byte header`);
    }
    if (len > this.max) {
      return new PfKeyFramingError('frame-too-large', this.consumed + 4, `sadb_msg_len ${len} bytes exceeds the ${this.max}-byte limit`);
    }
    return len;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0];
  }

  private take(n: number): Buffer {
    const all = this.peek(n);
    const msg = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks.shift();
    if (rest.length > 0) this.chunks.unshift(rest);
    this.pending -= n;
    this.consumed += n;
    return msg;
  }
}
