/**
 * The layout table itself: every struct's fields tile its bytes exactly, with
 * no gap and no overlap, at the sizes of Linux include/uapi/linux/pfkeyv2.h
 * (x86_64). A missing reserved field or a wrong offset fails here before any
 * wire test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALG_LAYOUT, COMB_LAYOUT, EXTENSIONS, EXT_KEYS, IPSECREQUEST_LAYOUT, type FieldKind } from '../../src/pfkey/codec';

const WIDTH: Record<FieldKind, number> = { u8: 1, u16: 2, u32: 4, u64: 8, be16: 2, be32: 4 };

/** Byte coverage of a layout: each byte's owner, or throws on overlap. */
interface Shape {
  struct: string;
  size: number;
  fields: readonly { offset: number; kind: FieldKind }[];
}
function coverage(layout: Shape, from: number, extra: readonly { offset: number; width: number; align: number }[] = []): number[] {
  const owner = new Array<number>(layout.size).fill(0);
  for (let b = 0; b < from; b++) owner[b] = 1; // sadb_ext_len + sadb_ext_type
  const spans = [...layout.fields.map((f) => ({ offset: f.offset, width: WIDTH[f.kind], align: WIDTH[f.kind] })), ...extra];
  for (const s of spans) {
    expect(s.offset % s.align).toBe(0); // natural alignment, as the C compiler places them
    for (let b = s.offset; b < s.offset + s.width; b++) {
      if (b >= layout.size) throw new Error(`${layout.struct}: field at ${s.offset} runs past ${layout.size}`);
      if (owner[b]) throw new Error(`${layout.struct}: byte ${b} described twice`);
      owner[b] = 1;
    }
  }
  return owner;
}

// sizeof() of each struct in pfkeyv2.h
const SIZES: Record<string, number> = {
  sadb_sa: 16,
  sadb_lifetime: 32,
  sadb_address: 8,
  sadb_key: 8,
  sadb_ident: 16,
  sadb_sens: 16,
  sadb_prop: 8,
  sadb_supported: 8,
  sadb_spirange: 16,
  sadb_x_kmprivate: 8,
  sadb_x_policy: 16,
  sadb_x_sa2: 16,
  sadb_x_nat_t_type: 8,
  sadb_x_nat_t_port: 8,
  sadb_x_sec_ctx: 8,
  sadb_x_kmaddress: 8,
  sadb_x_filter: 40,
  sadb_comb: 72,
  sadb_alg: 8,
  sadb_x_ipsecrequest: 16,
};

describe('PF_KEY layout table', () => {
  it.each(EXT_KEYS)('%s: fields tile the struct after the 4-byte sadb_ext header', (key) => {
    const layout: Shape & { inaddr?: readonly { offset: number }[] } = EXTENSIONS[key];
    expect(layout.size).toBe(SIZES[layout.struct]);
    const extra = (layout.inaddr ?? []).map((s) => ({ offset: s.offset, width: 16, align: 4 })); // __u32 [4]
    expect(coverage(layout, 4, extra)).toEqual(new Array(layout.size).fill(1));
  });

  it.each<Shape>([COMB_LAYOUT, ALG_LAYOUT, IPSECREQUEST_LAYOUT])('$struct: fields tile the whole struct', (layout) => {
    expect(layout.size).toBe(SIZES[layout.struct]);
    expect(coverage(layout, 0)).toEqual(new Array(layout.size).fill(1));
  });
});

/**
 * Oracle: sizeof/offsetof printed by gcc from the real <linux/pfkeyv2.h>
 * (Debian linux-libc-dev 6.1.187, x86_64; see vectors/pfkeyv2-layout.c).
 * Every C field must have a table field of the same offset and width.
 */
describe('layout table against gcc offsetof() of <linux/pfkeyv2.h>', () => {
  const lines = readFileSync(join(__dirname, 'vectors', 'pfkeyv2-layout.x86_64.txt'), 'utf8').trim().split('\n');
  const layouts = new Map<string, Shape & { inaddr?: readonly { offset: number }[] }>();
  for (const k of EXT_KEYS) layouts.set(EXTENSIONS[k].struct, EXTENSIONS[k]);
  for (const l of [COMB_LAYOUT, ALG_LAYOUT, IPSECREQUEST_LAYOUT] as Shape[]) layouts.set(l.struct, l);

  const sizes = lines.filter((l) => l.startsWith('SIZE ')).map((l) => l.split(' '));
  it.each(sizes.filter(([, s]) => s !== 'sadb_msg'))('sizeof(struct %s) = %s', (_k, struct, size) => {
    expect(layouts.get(struct)?.size).toBe(Number(size));
  });

  const fields = lines.filter((l) => l.startsWith('OFF ')).map((l) => l.split(' '));
  it.each(fields)('%s %s.%s at %s, %s bytes', (_k, struct, _field, offset, width) => {
    const layout = layouts.get(struct);
    if (!layout) throw new Error(`no layout for ${struct}`);
    const match =
      layout.fields.some((f) => f.offset === Number(offset) && WIDTH[f.kind] === Number(width)) ||
      (Number(width) === 16 && (layout.inaddr ?? []).some((s) => s.offset === Number(offset)));
    expect(match).toBe(true);
  });

  it('extension and message numbers agree with the header', () => {
    expect(lines).toContain('EXT KMADDRESS 25 FILTER 26 SEC_CTX 24 MAX 26 MIGRATE 24');
    expect([EXTENSIONS.kmaddress.type, EXTENSIONS.filter.type, EXTENSIONS.secCtx.type]).toEqual([25, 26, 24]);
  });
});
