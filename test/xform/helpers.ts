import { parseIp as parseAddr } from '../../src/util/ip';
import { DEFAULT_TUNNEL_OPTIONS, EncrAlgRow, IntegAlgRow, XformSa } from '../../src/xform/sa';

export function addr(text: string): Buffer {
  const b = parseAddr(text);
  if (!b) throw new Error(`bad address ${text}`);
  return b;
}

export function espSa(over: Partial<XformSa> & { encr: EncrAlgRow; encrKey: Buffer; integ?: IntegAlgRow }): XformSa {
  return {
    spi: 0x1000,
    proto: 'esp',
    mode: 'tunnel',
    src: addr('192.0.2.1'),
    dst: addr('192.0.2.2'),
    esn: false,
    replayWindow: 64,
    padding: 'sequential',
    checkPadding: true,
    tunnel: { ...DEFAULT_TUNNEL_OPTIONS },
    ...over,
  };
}
