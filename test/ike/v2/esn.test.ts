/**
 * Extended Sequence Numbers for IKEv2 CHILD_SAs (RFC 7296 §3.3.2 transform
 * type 5, RFC 4303 §2.2.1): negotiated when both proposals allow ESN,
 * installed with SADB_X_SAFLAGS_ESN (the FreeBSD/OpenBSD value 0x400) which
 * the userspace data plane runs with 64-bit sequence numbers and the XFRM
 * backend turns into XFRM_STATE_ESN + XFRMA_REPLAY_ESN_VAL; an engine told the
 * kernel cannot install ESN refuses to offer or accept it, saying why.
 */
import { Errno, SadbAalg, SadbMsgType, SadbSaFlags } from '../../../src/pfkey/constants';
import { EsnId } from '../../../src/ike/v2/constants';
import { saAddToXfrm, saToPfKey } from '../../../src/kernel/xfrm/translate';
import { XFRM_STATE_ESN } from '../../../src/kernel/xfrm/constants';
import { decodeAttrs, encodeAttrs } from '../../../src/kernel/xfrm/structs';
import { openXfrmPfKey, type XfrmPfKeySocket } from '../../../src/kernel/xfrm';
import { registryCryptoPort } from '../../../src/ike/v2/crypto-registry-port';
import { espAdd } from '../../xfrm/pfkey-helpers';
import { TestNetns } from '../../xfrm/netns';
import { VirtualNet, type Node } from '../helpers/harness';
import { pskPair } from '../helpers/configs';

function pair(esnA: number[], esnB: number[], extraA: { esnUnsupported?: string } = {}) {
  const net = new VirtualNet();
  const { a, b } = pskPair();
  // (pskPair's two configs share one proposal object: replace, do not mutate)
  a.children[0].proposals = [{ ...a.children[0].proposals[0], esn: esnA }];
  b.children[0].proposals = [{ ...b.children[0].proposals[0], esn: esnB }];
  const A = net.add('A', '10.99.0.1', [a], { crypto: registryCryptoPort, ...extraA }, 0xa0000000);
  const B = net.add('B', '10.99.0.2', [b], { crypto: registryCryptoPort }, 0xb0000000);
  A.engine.initiate('v2psk', 0);
  net.pump();
  return { net, A, B };
}
const installs = (n: Node) => n.kernel.log.filter((m) => m.type === SadbMsgType.UPDATE || m.type === SadbMsgType.ADD);
const esnFlag = (n: Node) => installs(n).map((m) => (m.ext.sa!.flags & SadbSaFlags.X_ESN) !== 0);

describe('ESN negotiation (RFC 7296 §3.3.2)', () => {
  it('both allow ESN (tanuki daemon default: ESN, NO_ESN): UPDATE and ADD carry SADB_X_SAFLAGS_ESN on both ends', () => {
    const { A, B } = pair([EsnId.ESN, EsnId.NO_ESN], [EsnId.ESN, EsnId.NO_ESN]);
    expect(esnFlag(A)).toEqual([true, true]);
    expect(esnFlag(B)).toEqual([true, true]);
  });

  it('the peer allows only NO_ESN (strongSwan\'s default): no ESN', () => {
    const { A, B } = pair([EsnId.ESN, EsnId.NO_ESN], [EsnId.NO_ESN]);
    expect(esnFlag(A)).toEqual([false, false]);
    expect(esnFlag(B)).toEqual([false, false]);
  });

  it('one side requires ESN and the other refuses it: NO_PROPOSAL_CHOSEN, no CHILD_SA', () => {
    const { A, B } = pair([EsnId.ESN], [EsnId.NO_ESN]);
    expect(installs(A)).toHaveLength(0);
    expect(installs(B)).toHaveLength(0);
    expect(A.logs.some((l) => l.msg === 'no proposal chosen')).toBe(true);
  });

  it('a kernel that cannot install ESN: ESN is neither offered nor accepted, with the reason in the log', () => {
    const { A, B } = pair([EsnId.ESN, EsnId.NO_ESN], [EsnId.ESN, EsnId.NO_ESN], { esnUnsupported: 'this kernel has no 64-bit replay state' });
    expect(esnFlag(A)).toEqual([false, false]);
    expect(esnFlag(B)).toEqual([false, false]);
    expect(A.logs.filter((l) => /Extended Sequence Numbers are neither offered nor accepted: this kernel has no 64-bit replay state/.test(l.msg))).toHaveLength(1);
  });

  it('ESN-only configuration on such a kernel: the CHILD_SA is not negotiated', () => {
    const { A } = pair([EsnId.ESN], [EsnId.ESN], { esnUnsupported: 'no ESN here' });
    expect(installs(A)).toHaveLength(0);
    expect(A.logs.some((l) => /no ESP proposal the kernel can install/.test(l.msg))).toBe(true);
  });
});

describe('XFRM: SADB_X_SAFLAGS_ESN ↔ XFRM_STATE_ESN + XFRMA_REPLAY_ESN_VAL', () => {
  it('ADD with the ESN flag: xfrm_usersa_info.replay_window 0, flags ESN, a replay_esn of the window; and back', () => {
    const m = espAdd('192.0.2.1', '192.0.2.2', 0x2001, { replay: 64 });
    m.ext.sa!.flags = SadbSaFlags.X_ESN;
    const t = saAddToXfrm(m);
    if (!t.ok) throw new Error(t.reason);
    expect(t.value.body.flags & XFRM_STATE_ESN).toBe(XFRM_STATE_ESN);
    expect(t.value.body.replayWindow).toBe(0); // xfrm_user.c verify_replay: ESN state keeps its window in replay_esn
    expect(t.value.attrs.replayEsnVal).toEqual({ bmpLen: 2, oseq: 0, seq: 0, oseqHi: 0, seqHi: 0, replayWindow: 64, bmp: [0, 0] });
    // the attribute table round-trips the variable-length struct
    const enc = encodeAttrs({ replayEsnVal: t.value.attrs.replayEsnVal! });
    expect(enc.length).toBe(4 + 24 + 8);
    expect(decodeAttrs(enc, 0)).toEqual({ replayEsnVal: t.value.attrs.replayEsnVal });
    const back = saToPfKey(SadbMsgType.ADD, t.value.body, t.value.attrs, m.seq, m.pid);
    expect(back.ext.sa).toMatchObject({ flags: SadbSaFlags.X_ESN, replay: 64, auth: SadbAalg.SHA2_256HMAC });
  });

  it('a truncated replay_esn is a typed decode error, not an exception', () => {
    const enc = encodeAttrs({ replayEsnVal: { bmpLen: 1, oseq: 0, seq: 0, oseqHi: 0, seqHi: 0, replayWindow: 32, bmp: [0] } });
    const cut = Buffer.from(enc.subarray(0, enc.length - 4));
    cut.writeUInt16LE(cut.length, 0);
    const d = decodeAttrs(cut, 0);
    expect(d).toBeInstanceOf(Error);
  });

  describe('against the real kernel in a netns', () => {
    let ns: TestNetns;
    let sock: XfrmPfKeySocket;
    beforeAll(async () => {
      ns = TestNetns.create();
      sock = await openXfrmPfKey({ netns: ns.name });
    });
    afterAll(async () => {
      await sock?.close();
      ns?.destroy();
    });
    it('NEWSA with ESN passes the kernel\'s replay_esn checks: installed with "flag esn", or EPROTONOSUPPORT (no esp4) — never EINVAL', async () => {
      const m = espAdd('192.0.2.1', '192.0.2.2', 0x2002, { reqid: 5 });
      m.ext.sa!.flags = SadbSaFlags.X_ESN;
      const r = await sock.request(m);
      if (r.errno === 0) expect(ns.ip('xfrm', 'state')).toMatch(/flag.*esn/);
      else expect(r.errno).toBe(Errno.EPROTONOSUPPORT);
    });
  });
});
