/**
 * A tiny table-driven fixed-layout codec: each wire header is one array of
 * field descriptions, read and written by the same two functions, so the
 * encoder and the decoder cannot drift apart. Multi-byte fields are network
 * order. Bit fields name the containing big-endian word (1, 2 or 4 bytes),
 * the shift of their least significant bit, and their width.
 */

export type FieldSpec =
  | { name: string; kind: 'uint'; offset: number; bytes: 1 | 2 | 4 }
  | { name: string; kind: 'bits'; offset: number; bytes: 1 | 2 | 4; shift: number; width: number }
  | { name: string; kind: 'bytes'; offset: number; length: number };

export interface StructSpec<N extends string> {
  name: string;
  size: number;
  fields: readonly (FieldSpec & { name: N })[];
}

function readWord(buf: Uint8Array, offset: number, bytes: 1 | 2 | 4): number {
  if (bytes === 1) return buf[offset];
  if (bytes === 2) return (buf[offset] << 8) | buf[offset + 1];
  return ((buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]) >>> 0;
}

function writeWord(buf: Uint8Array, offset: number, bytes: 1 | 2 | 4, v: number): void {
  if (bytes === 1) buf[offset] = v & 0xff;
  else if (bytes === 2) {
    buf[offset] = (v >>> 8) & 0xff;
    buf[offset + 1] = v & 0xff;
  } else {
    buf[offset] = (v >>> 24) & 0xff;
    buf[offset + 1] = (v >>> 16) & 0xff;
    buf[offset + 2] = (v >>> 8) & 0xff;
    buf[offset + 3] = v & 0xff;
  }
}

export type Decoded<N extends string> = Record<N, number | Buffer>;

/** Read one field of a struct located at `base` (caller has checked the size). */
export function getField(spec: FieldSpec, buf: Uint8Array, base: number): number | Buffer {
  const at = base + spec.offset;
  switch (spec.kind) {
    case 'uint':
      return readWord(buf, at, spec.bytes);
    case 'bits':
      // widths and shifts in these tables stay below 32 bits
      return (readWord(buf, at, spec.bytes) >>> spec.shift) & (2 ** spec.width - 1);
    case 'bytes':
      return Buffer.from(buf.subarray(at, at + spec.length));
  }
}

export function setField(spec: FieldSpec, buf: Uint8Array, base: number, value: number | Uint8Array): void {
  const at = base + spec.offset;
  switch (spec.kind) {
    case 'uint':
      writeWord(buf, at, spec.bytes, value as number);
      return;
    case 'bits': {
      const word = readWord(buf, at, spec.bytes);
      const span = 2 ** spec.shift;
      const mask = (2 ** spec.width - 1) * span;
      const cleared = word - (Math.floor(word / span) % 2 ** spec.width) * span;
      const v = ((value as number) % 2 ** spec.width) * span;
      writeWord(buf, at, spec.bytes, (cleared + (v & mask)) >>> 0);
      return;
    }
    case 'bytes':
      buf.set((value as Uint8Array).subarray(0, spec.length), at);
      return;
  }
}

/** Decode every field of a struct; null when the buffer is too short. */
export function decodeStruct<N extends string>(spec: StructSpec<N>, buf: Uint8Array, base = 0): Decoded<N> | null {
  if (buf.length - base < spec.size) return null;
  const out = {} as Decoded<N>;
  for (const f of spec.fields) out[f.name] = getField(f, buf, base);
  return out;
}

/** Encode every field into a new buffer of spec.size bytes. */
export function encodeStruct<N extends string>(spec: StructSpec<N>, values: Decoded<N>): Buffer {
  const buf = Buffer.alloc(spec.size);
  for (const f of spec.fields) setField(f, buf, 0, values[f.name]);
  return buf;
}

export function fieldOf<N extends string>(spec: StructSpec<N>, name: N): FieldSpec {
  const f = spec.fields.find((x) => x.name === name);
  if (!f) throw new Error(`${spec.name} has no field ${name}`);
  return f;
}
