/**
 * RFC 4304 §2: the Extended Sequence Number SA attribute (type 11, value 1)
 * in Quick Mode, installed as the SA flag SADB_X_SAFLAGS_ESN (0x400, the
 * FreeBSD/OpenBSD value) that the userspace data plane turns into 64-bit
 * sequence numbers (RFC 4303 §2.2.1).
 */
import { SadbMsgType, SadbSaFlags } from '../../../src/pfkey/constants';
import { Ph2Attr } from '../../../src/ike/v1/constants';
import { espSuite } from '../../../src/ike/v1/suites';
import { makePair, peerConfig } from './harness';
import { toXformSa } from '../../../src/kernel/dataplane/sa-adapter';
import type { SecurityAssociation } from '../../../src/sadb/sadb';

const A = '10.0.0.1';
const B = '10.0.0.2';

describe('ESN in Quick Mode (RFC 4304)', () => {
  it('both sainfos allow ESN: the transforms carry attribute 11 = 1 and UPDATE/ADD set SADB_X_SAFLAGS_ESN on both sides', () => {
    const p = makePair(peerConfig('b', A, B, {}, { esn: true }), peerConfig('a', B, A, {}, { esn: true }), 'esn');
    p.a.initiate('b', 0);
    p.run();
    for (const k of [p.kernel.a, p.kernel.b]) {
      const installs = k.filter((m) => m.type === SadbMsgType.UPDATE || m.type === SadbMsgType.ADD);
      expect(installs).toHaveLength(2);
      expect(installs.every((m) => (m.ext.sa!.flags & SadbSaFlags.X_ESN) !== 0)).toBe(true);
    }
  });

  it('without ESN nothing changes: no flag', () => {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A), 'noesn');
    p.a.initiate('b', 0);
    p.run();
    expect(p.kernel.a.filter((m) => m.type === SadbMsgType.ADD).every((m) => m.ext.sa!.flags === 0)).toBe(true);
  });

  it('a responder whose sainfo does not allow ESN refuses an ESN-only proposal (NO-PROPOSAL-CHOSEN), as racoon refuses unknown attributes', () => {
    const p = makePair(peerConfig('b', A, B, {}, { esn: true }), peerConfig('a', B, A), 'esnno');
    p.a.initiate('b', 0);
    p.run();
    expect(p.logs.b.some((l) => l.msg.startsWith('no suitable policy found'))).toBe(true);
    expect(p.kernel.b.some((m) => m.type === SadbMsgType.UPDATE)).toBe(false);
  });

  it('espSuite reads attribute 11 and rejects values other than 1', () => {
    const base = [{ type: Ph2Attr.AUTHENTICATION_ALGORITHM, value: 2 }, { type: Ph2Attr.KEY_LENGTH, value: 128 }];
    expect(espSuite(12, [...base, { type: Ph2Attr.EXTENDED_SEQUENCE_NUMBER, value: 1 }])).toMatchObject({ esn: true });
    expect(espSuite(12, base)).toMatchObject({ esn: false });
    expect(espSuite(12, [...base, { type: Ph2Attr.EXTENDED_SEQUENCE_NUMBER, value: 2 }])).toMatch(/Extended Sequence Number value 2/);
  });
});

describe('the userspace data plane honours the ESN flag', () => {
  it('toXformSa turns SADB_X_SAFLAGS_ESN into a 64-bit-sequence ESP SA, and no flag into a 32-bit one', () => {
    const sa = (flags: number) =>
      ({
        satype: 3,
        proto: 50,
        spi: 0x1234,
        src: '10.0.0.1',
        dst: '10.0.0.2',
        state: 1,
        mode: 2,
        reqid: 1,
        ext: { sa: { spi: 0x1234, replay: 32, state: 1, auth: 3, encrypt: 12, flags }, keyEncrypt: { bits: 128, key: Buffer.alloc(16, 1) }, keyAuth: { bits: 160, key: Buffer.alloc(20, 2) } },
      }) as unknown as SecurityAssociation;
    const on = toXformSa(sa(SadbSaFlags.X_ESN), null);
    const off = toXformSa(sa(0), null);
    expect(on.ok && on.value.esn).toBe(true);
    expect(off.ok && off.value.esn).toBe(false);
  });
});

// The xfrm backend maps SADB_X_SAFLAGS_ESN to XFRM_STATE_ESN + XFRMA_REPLAY_ESN_VAL: test/ike/v2/esn.test.ts.
