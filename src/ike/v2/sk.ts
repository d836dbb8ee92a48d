/**
 * The Encrypted payload (RFC 7296 §3.14): IV | Encrypted(payloads | Padding |
 * Pad Length) | ICV. AEAD transforms follow RFC 5282 §3/§5 (nonce = salt | IV,
 * AAD = IKE header and SK generic header) and RFC 7634 for ChaCha20-Poly1305.
 */
import { GENERIC_PAYLOAD_HEADER_BYTES, IKE_HEADER_BYTES, PayloadType } from './constants';
import type { AeadLike, CipherLike, EncrSuite, IntegSuite, MacLike } from './crypto-port';
import {
  IkeHeader,
  InnerPayload,
  ParseResult,
  ParsedMessage,
  generateChain,
  generateHeader,
  parseInnerPayloads,
  payloadTypeOf,
} from './payloads';

const NO_KEY = Buffer.alloc(0);

/**
 * One direction's SK protection (SK_ei + SK_ai, or SK_er + SK_ar).
 *
 * Memory per established IKE SA matters (ten thousands of them): the protector
 * keeps only the suites (shared) and its key octets; the AEAD / cipher + MAC
 * objects are built on first use and dropped again by `moveKeys`, which the IKE
 * SA calls once established to pack all its long-lived key octets into one
 * buffer of its own.
 */
export class SkProtector {
  private encrKey: Buffer;
  private integKey: Buffer;
  private prims: { aead: AeadLike | null; cipher: CipherLike | null; mac: MacLike | null } | null = null;
  /** false once the keys were moved: the primitives are then built per message and not kept */
  private keep = true;
  readonly ivBytes: number;
  readonly icvBytes: number;
  readonly blockBytes: number;

  constructor(
    private readonly encr: EncrSuite,
    private readonly integ: IntegSuite | null,
    encrKey: Buffer,
    integKey: Buffer,
  ) {
    if (!encr.aead && !integ) throw new RangeError('a non-AEAD ENCR transform needs an INTEG transform (RFC 7296 §3.3.3)');
    this.encrKey = encrKey;
    this.integKey = integKey;
    this.ivBytes = encr.ivBytes;
    this.icvBytes = encr.aead ? encr.icvBytes : integ!.icvBytes;
    this.blockBytes = Math.max(1, encr.blockBytes);
    this.primitives(); // a bad key length fails here, not on the first message
  }

  private primitives(): { aead: AeadLike | null; cipher: CipherLike | null; mac: MacLike | null } {
    if (this.prims) return this.prims;
    const e = this.encr;
    const prims = e.aead
      ? { aead: e.create(this.encrKey), cipher: null, mac: null }
      : { aead: null, cipher: e.create(this.encrKey), mac: this.integ!.create(this.integKey) };
    if (this.keep) this.prims = prims;
    return prims;
  }

  /** Octets of key material this protector holds. */
  get keyOctets(): number {
    return this.encrKey.length + this.integKey.length;
  }

  /**
   * Copy the key octets into `block` at `at` and keep slices of it from now
   * on (dropping the primitives built from the old copies; from now on they are
   * built per message, an established IKE SA exchanges few); returns the next offset.
   */
  moveKeys(block: Buffer, at: number): number {
    const e = this.encrKey.copy(block, at);
    this.encrKey = block.subarray(at, at + e);
    const i = this.integKey.copy(block, at + e);
    this.integKey = i ? block.subarray(at + e, at + e + i) : NO_KEY;
    this.prims = null;
    this.keep = false;
    return at + e + i;
  }

  /** Octets the SK wrapping adds around `plainLen` octets of inner payloads (for fragmentation). */
  overhead(plainLen: number): number {
    const padded = Math.ceil((plainLen + 1) / this.blockBytes) * this.blockBytes;
    return GENERIC_PAYLOAD_HEADER_BYTES + this.ivBytes + (padded - plainLen) + this.icvBytes;
  }

  /**
   * Build a whole message whose payloads are all inside SK. `clear` payloads
   * (rare; none in RFC 7296 exchanges after IKE_SA_INIT) are not supported.
   * `iv` must be ivBytes of fresh randomness (or a counter for AEAD).
   */
  seal(header: Omit<IkeHeader, 'length' | 'nextPayload'>, inner: InnerPayload[], iv: Buffer): Buffer {
    const first = inner.length ? payloadTypeOf(inner[0]) : PayloadType.NONE;
    return this.sealRaw(header, PayloadType.SK, first, generateChain(inner), iv, null);
  }

  /**
   * Encrypt an already generated plaintext chain into an SK (or, with `frag`,
   * an SKF, RFC 7383 §2.5) payload and return the whole message.
   */
  sealRaw(
    header: Omit<IkeHeader, 'length' | 'nextPayload'>,
    skType: PayloadType.SK | PayloadType.SKF,
    firstInner: number,
    plain: Buffer,
    iv: Buffer,
    frag: { fragmentNumber: number; totalFragments: number } | null,
  ): Buffer {
    if (iv.length !== this.ivBytes) throw new RangeError(`SK IV must be ${this.ivBytes} octets`);
    const padded = Math.ceil((plain.length + 1) / this.blockBytes) * this.blockBytes;
    const padLen = padded - plain.length - 1;
    const pt = Buffer.concat([plain, Buffer.alloc(padLen), Buffer.from([padLen])]);
    const fragHdr = frag ? Buffer.alloc(4) : Buffer.alloc(0);
    if (frag) {
      fragHdr.writeUInt16BE(frag.fragmentNumber, 0);
      fragHdr.writeUInt16BE(frag.totalFragments, 2);
    }
    const skLen = GENERIC_PAYLOAD_HEADER_BYTES + fragHdr.length + iv.length + pt.length + this.icvBytes;
    const total = IKE_HEADER_BYTES + skLen;
    const hdr = generateHeader({ ...header, nextPayload: skType }, total);
    const skHdr = Buffer.alloc(GENERIC_PAYLOAD_HEADER_BYTES);
    // RFC 7383 §2.5: only the first fragment names the first inner payload
    skHdr[0] = frag && frag.fragmentNumber !== 1 ? 0 : firstInner;
    skHdr.writeUInt16BE(skLen, 2);
    const p = this.primitives();
    if (p.aead) {
      const aad = Buffer.concat([hdr, skHdr, fragHdr]);
      const sealed = p.aead.seal(iv, aad, pt);
      return Buffer.concat([hdr, skHdr, fragHdr, iv, sealed]);
    }
    const ct = p.cipher!.encrypt(iv, pt);
    const signed = Buffer.concat([hdr, skHdr, fragHdr, iv, ct]);
    const icv = p.mac!.compute(signed).subarray(0, this.icvBytes);
    return Buffer.concat([signed, icv]);
  }

  /**
   * Verify and decrypt the SK/SKF payload of a parsed message; returns the
   * plaintext payload chain (padding removed). null = integrity check failed,
   * which RFC 7296 §2.21.2 says to drop silently.
   */
  openRaw(datagram: Buffer, parsed: ParsedMessage): Buffer | null {
    const last = parsed.payloads[parsed.payloads.length - 1];
    if (!last || (last.type !== PayloadType.SK && last.type !== PayloadType.SKF)) return null;
    const fragHdrLen = last.type === PayloadType.SKF ? 4 : 0;
    const bodyStart = parsed.skOffset + GENERIC_PAYLOAD_HEADER_BYTES + fragHdrLen;
    const end = datagram.length;
    if (end - bodyStart < this.ivBytes + this.icvBytes + 1) return null;
    const iv = datagram.subarray(bodyStart, bodyStart + this.ivBytes);
    let pt: Buffer | null;
    const p = this.primitives();
    if (p.aead) {
      const aad = datagram.subarray(0, bodyStart);
      pt = p.aead.open(Buffer.from(iv), Buffer.from(aad), Buffer.from(datagram.subarray(bodyStart + this.ivBytes, end)));
    } else {
      const icvAt = end - this.icvBytes;
      const icv = p.mac!.compute(datagram.subarray(0, icvAt)).subarray(0, this.icvBytes);
      if (!timingSafeEqualBuf(icv, datagram.subarray(icvAt))) return null;
      const ct = datagram.subarray(bodyStart + this.ivBytes, icvAt);
      if (ct.length === 0 || ct.length % this.blockBytes !== 0) return null;
      pt = p.cipher!.decrypt(Buffer.from(iv), Buffer.from(ct));
    }
    if (!pt || pt.length < 1) return null;
    const padLen = pt[pt.length - 1];
    if (padLen + 1 > pt.length) return null;
    return pt.subarray(0, pt.length - 1 - padLen);
  }

  /** openRaw + parse the inner payload chain. */
  open(datagram: Buffer, parsed: ParsedMessage): ParseResult<InnerPayload[]> | null {
    const last = parsed.payloads[parsed.payloads.length - 1];
    const plain = this.openRaw(datagram, parsed);
    if (!plain || !last || (last.type !== PayloadType.SK && last.type !== PayloadType.SKF)) return null;
    return parseInnerPayloads(plain, last.firstInner);
  }
}

function timingSafeEqualBuf(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
