/**
 * Evidence parsers: `swanctl --list-sas --raw` (vici message dump: `key=value`,
 * `key=[a b]`, `key {` … `}`) and tanuki's `setkey -D` (ipsec-tools layout).
 */

export type ViciValue = string | string[] | ViciSection;
export interface ViciSection {
  [key: string]: ViciValue;
}

export class EvidenceParseError extends Error {
  constructor(
    readonly source: string,
    readonly offset: number,
    message: string,
  ) {
    super(`${source} at offset ${offset}: ${message}`);
    this.name = 'EvidenceParseError';
  }
}

/** Parse one or more raw vici messages (`list-sa event {…}` lines) into sections. */
export function parseViciRaw(text: string): ViciSection[] {
  const out: ViciSection[] = [];
  const re = /\s*(?:([A-Za-z0-9_.\-]+)\s*(=\s*(?:\[([^\]]*)\]|([^\s{}]*))|\{)|(\}))/y;
  let pos = 0;
  for (const line of text.split('\n')) {
    const body = line.trim();
    if (body.length === 0) {
      pos += line.length + 1;
      continue;
    }
    // A line is `<message name> {…}`; the message name may contain spaces ("list-sa event").
    const brace = body.indexOf('{');
    if (brace < 0) throw new EvidenceParseError('swanctl --raw', pos, `expected '{' in "${body.slice(0, 40)}"`);
    const root: ViciSection = {};
    const stack: ViciSection[] = [root];
    re.lastIndex = brace + 1;
    let i = brace + 1;
    while (i < body.length && stack.length > 0) {
      re.lastIndex = i;
      const m = re.exec(body);
      if (!m) {
        if (body.slice(i).trim() === '') break;
        throw new EvidenceParseError('swanctl --raw', pos + i, `unexpected "${body.slice(i, i + 20)}"`);
      }
      i = re.lastIndex;
      const top = stack[stack.length - 1];
      if (m[5]) {
        stack.pop();
      } else if (m[2] === '{') {
        const sec: ViciSection = {};
        top[m[1]] = sec;
        stack.push(sec);
      } else if (m[3] !== undefined) {
        top[m[1]] = m[3].split(/\s+/).filter((x) => x.length > 0);
      } else {
        top[m[1]] = m[4] ?? '';
      }
    }
    if (stack.length !== 0) throw new EvidenceParseError('swanctl --raw', pos + body.length, 'unbalanced braces');
    out.push(root);
    pos += line.length + 1;
  }
  return out;
}

export interface CharonChildSa {
  readonly name: string;
  readonly state: string;
  readonly mode: string;
  readonly protocol: string;
  readonly encap: boolean;
  readonly spiIn: number;
  readonly spiOut: number;
  readonly encrAlg: string;
  readonly encrKeysize: string;
  readonly integAlg: string;
  readonly localTs: string[];
  readonly remoteTs: string[];
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  /** PFS group of the CHILD_SA (present after a CREATE_CHILD_SA with KE / a Quick Mode with PFS). */
  readonly dhGroup: string;
}

export interface CharonIkeSa {
  readonly name: string;
  readonly version: string;
  readonly state: string;
  readonly initiator: boolean;
  readonly localPort: string;
  readonly remotePort: string;
  readonly initiatorSpi: string;
  readonly responderSpi: string;
  readonly encrAlg: string;
  readonly encrKeysize: string;
  readonly integAlg: string;
  readonly prfAlg: string;
  readonly dhGroup: string;
  /** charon faked NAT-D (kernel-libipsec forces UDP encapsulation). */
  readonly natFake: boolean;
  /** charon detected a real NAT in front of the peer (NAT-D mismatch for the remote end). */
  readonly natRemote: boolean;
  readonly remoteHost: string;
  readonly children: CharonChildSa[];
}

function str(s: ViciSection, k: string): string {
  const v = s[k];
  return typeof v === 'string' ? v : '';
}
function list(s: ViciSection, k: string): string[] {
  const v = s[k];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}
function sec(s: ViciSection, k: string): ViciSection {
  const v = s[k];
  return typeof v === 'object' && !Array.isArray(v) ? v : {};
}

/** The IKE_SAs (with their CHILD_SAs) of a `swanctl --list-sas --raw` output. */
export function charonSas(raw: string): CharonIkeSa[] {
  const out: CharonIkeSa[] = [];
  for (const msg of parseViciRaw(raw)) {
    for (const [name, v] of Object.entries(msg)) {
      if (typeof v !== 'object' || Array.isArray(v)) continue;
      const children: CharonChildSa[] = [];
      for (const c of Object.values(sec(v, 'child-sas'))) {
        if (typeof c !== 'object' || Array.isArray(c)) continue;
        children.push({
          name: str(c, 'name'),
          state: str(c, 'state'),
          mode: str(c, 'mode'),
          protocol: str(c, 'protocol'),
          encap: str(c, 'encap') === 'yes',
          spiIn: parseInt(str(c, 'spi-in'), 16) >>> 0,
          spiOut: parseInt(str(c, 'spi-out'), 16) >>> 0,
          encrAlg: str(c, 'encr-alg'),
          encrKeysize: str(c, 'encr-keysize'),
          integAlg: str(c, 'integ-alg'),
          localTs: list(c, 'local-ts'),
          remoteTs: list(c, 'remote-ts'),
          bytesIn: Number(str(c, 'bytes-in') || 0),
          bytesOut: Number(str(c, 'bytes-out') || 0),
          packetsIn: Number(str(c, 'packets-in') || 0),
          packetsOut: Number(str(c, 'packets-out') || 0),
          dhGroup: str(c, 'dh-group'),
        });
      }
      out.push({
        name,
        version: str(v, 'version'),
        state: str(v, 'state'),
        initiator: str(v, 'initiator') === 'yes',
        localPort: str(v, 'local-port'),
        remotePort: str(v, 'remote-port'),
        initiatorSpi: str(v, 'initiator-spi'),
        responderSpi: str(v, 'responder-spi'),
        encrAlg: str(v, 'encr-alg'),
        encrKeysize: str(v, 'encr-keysize'),
        integAlg: str(v, 'integ-alg'),
        prfAlg: str(v, 'prf-alg'),
        dhGroup: str(v, 'dh-group'),
        natFake: str(v, 'nat-fake') === 'yes',
        natRemote: str(v, 'nat-remote') === 'yes',
        remoteHost: str(v, 'remote-host'),
        children,
      });
    }
  }
  return out;
}

export interface TanukiSa {
  readonly src: string;
  readonly dst: string;
  readonly udpEncap: boolean;
  readonly mode: string;
  readonly spi: number;
  readonly state: string;
  readonly encrypt: string;
  readonly auth: string;
  /** LIFETIME_CURRENT bytes / allocations (packets) the data plane counted. */
  readonly bytes: number;
  readonly packets: number;
}

/** SAs of tanuki's `setkey -D` (src/config/setkey/dump.ts layout: header line, then tab-indented lines). */
export function tanukiSas(dump: string): TanukiSa[] {
  const out: TanukiSa[] = [];
  const blocks = dump.split(/\n(?=\S)/);
  for (const b of blocks) {
    const m = /^(\S+?)(?:\[\d+\])* (\S+?)(?:\[\d+\])* *\n\t(esp-udp |esp ?|ah ?)mode=(\S+) spi=(\d+)\(0x[0-9a-f]+\)/.exec(b);
    if (!m) continue;
    out.push({
      src: m[1],
      dst: m[2],
      udpEncap: m[3].startsWith('esp-udp'),
      mode: m[4],
      spi: Number(m[5]) >>> 0,
      state: /state=(\S+)/.exec(b)?.[1] ?? '',
      encrypt: /\tE: (\S+)/.exec(b)?.[1] ?? '',
      auth: /\tA: (\S+)/.exec(b)?.[1] ?? '',
      bytes: Number(/current: (\d+)\(bytes\)/.exec(b)?.[1] ?? 0),
      packets: Number(/allocated: (\d+)/.exec(b)?.[1] ?? 0),
    });
  }
  return out;
}

export function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
