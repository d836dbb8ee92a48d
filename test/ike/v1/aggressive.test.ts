/**
 * Aggressive Mode with a pre-shared key (RFC 2409 §5): accepted as responder
 * only when exchange_mode lists it (racoon: "exchange Aggressive not allowed
 * in any applicable rmconf."), HASH_R checked by the initiator, Quick Mode
 * follows with matching keys.
 */
import { SadbMsgType } from '../../../src/pfkey/constants';
import { ExchangeType } from '../../../src/ike/v1/constants';
import { makePair, peerConfig } from './harness';

const A = '10.0.0.1';
const B = '10.0.0.2';

describe('IKEv1 Aggressive Mode PSK', () => {
  it('three messages establish phase 1; Quick Mode installs matching SAs', () => {
    const p = makePair(peerConfig('b', A, B, { exchangeModes: ['aggressive'] }), peerConfig('a', B, A, { exchangeModes: ['main', 'aggressive'] }));
    p.a.initiate('b', 0);
    p.run();
    expect(p.wire.filter((w) => w.data[18] === ExchangeType.AGGRESSIVE)).toHaveLength(3);
    expect(p.a.ph1Sas()[0].state).toBe('ESTABLISHED');
    expect(p.b.ph1Sas()[0].state).toBe('ESTABLISHED');
    const upA = p.kernel.a.find((m) => m.type === SadbMsgType.UPDATE)!;
    const addB = p.kernel.b.find((m) => m.type === SadbMsgType.ADD)!;
    expect(upA.ext.sa!.spi).toBe(addB.ext.sa!.spi);
    expect(upA.ext.keyEncrypt!.key).toEqual(addB.ext.keyEncrypt!.key);
    expect(upA.ext.keyAuth!.key).toEqual(addB.ext.keyAuth!.key);
  });

  it('a responder whose exchange_mode is main only refuses Aggressive Mode and creates no state', () => {
    const p = makePair(peerConfig('b', A, B, { exchangeModes: ['aggressive'] }), peerConfig('a', B, A, { exchangeModes: ['main'] }));
    p.a.initiate('b', 0);
    p.run();
    expect(p.logs.b.some((l) => l.msg === 'exchange Aggressive not allowed in any applicable rmconf.')).toBe(true);
    expect(p.b.ph1Sas()).toHaveLength(0);
    expect(p.wire.filter((w) => w.from === 'b')).toHaveLength(0);
  });

  it('a mismatched pre-shared key is caught by the initiator at HASH_R', () => {
    const p = makePair(peerConfig('b', A, B, { exchangeModes: ['aggressive'] }), peerConfig('a', B, A, { exchangeModes: ['aggressive'], psk: Buffer.from('wrong') }));
    p.a.initiate('b', 0);
    p.run();
    expect(p.logs.a.some((l) => l.msg === 'HASH mismatched')).toBe(true);
    expect(p.a.ph1Sas()[0].state).toBe('AM_I1_SENT');
    expect(p.kernel.a).toHaveLength(0);
  });
});
