/**
 * ESP ChaCha20-Poly1305 (RFC 7634) through PF_KEY: tanuki's private
 * SADB_X_EALG number 251 (src/crypto/registry.ts) is listed by the userspace
 * kernel's SADB_REGISTER (RFC 2367 §3.1.2), carried in UPDATE/ADD by the IKEv2
 * engine, translated to XFRM's "rfc7539esp(chacha20,poly1305)" AEAD and named
 * by setkey. And the engine offers / accepts only ESP algorithms the kernel
 * lists (racoon's pk_checkalg rule, applied to IKEv2 proposals).
 */
import { SadbAalg, SadbEalg, SadbMsgType } from '../../../src/pfkey/constants';
import type { PfKeyMessage, SadbAlg } from '../../../src/pfkey/types';
import { SADB_X_EALG_CHACHA20POLY1305_TANUKI } from '../../../src/crypto/registry';
import { findEncrypt, isAead, supportedLists } from '../../../src/sadb/algorithms';
import { aeadBySadb, supportedAlgorithms as xfrmSupported } from '../../../src/kernel/xfrm/algorithms';
import { saAddToXfrm, saToPfKey } from '../../../src/kernel/xfrm/translate';
import { findSetkeyAlgorithm, dumpAlgorithmName } from '../../../src/config/setkey/algorithms';
import { registryCryptoPort } from '../../../src/ike/v2/crypto-registry-port';
import { NotifyType } from '../../../src/ike/v2/constants';
import { espAdd } from '../../xfrm/pfkey-helpers';
import { VirtualNet, type Node } from '../helpers/harness';
import { pskPair } from '../helpers/configs';

const CHACHA = SADB_X_EALG_CHACHA20POLY1305_TANUKI;

describe('the PF_KEY number of ESP ChaCha20-Poly1305', () => {
  it('is 251, in RFC 2367 private range, and no Linux SADB_EALG value', () => {
    expect(CHACHA).toBe(251);
    expect(Object.values(SadbEalg)).not.toContain(CHACHA);
  });

  it('the userspace kernel lists it in SADB_REGISTER as an AEAD with a 288-bit key (256 + 32-bit salt, RFC 7634 §2)', () => {
    expect(findEncrypt(CHACHA)).toEqual({ id: CHACHA, ivlen: 8, minbits: 288, maxbits: 288 });
    expect(isAead(CHACHA)).toBe(true);
    expect(supportedLists().encrypt.map((a) => a.id)).toContain(CHACHA);
  });

  it('XFRM: ADD with 251 becomes XFRMA_ALG_AEAD rfc7539esp(chacha20,poly1305) with a 128-bit ICV, and back', () => {
    const m = espAdd('192.0.2.1', '192.0.2.2', 0x1234, { auth: SadbAalg.NONE, enc: CHACHA, encKey: Buffer.alloc(36, 7) });
    const t = saAddToXfrm(m);
    if (!t.ok) throw new Error(t.reason);
    expect(t.value.attrs.algAead).toMatchObject({ algName: 'rfc7539esp(chacha20,poly1305)', algKeyLen: 288, algIcvLen: 128 });
    const back = saToPfKey(SadbMsgType.ADD, t.value.body, t.value.attrs, m.seq, m.pid);
    expect(back.ext.sa).toMatchObject({ spi: 0x1234, encrypt: CHACHA, auth: SadbAalg.NONE });
    expect(back.ext.keyEncrypt).toEqual(m.ext.keyEncrypt);
    // a key without the salt is refused before it reaches the kernel
    const short = saAddToXfrm(espAdd('192.0.2.1', '192.0.2.2', 0x1234, { auth: SadbAalg.NONE, enc: CHACHA, encKey: Buffer.alloc(32) }));
    expect(short.ok).toBe(false);
  });

  it('XFRM REGISTER lists 251 only when the kernel crypto API has rfc7539esp(chacha20,poly1305)', () => {
    expect(aeadBySadb(CHACHA)?.kernelName).toBe('rfc7539esp(chacha20,poly1305)');
    const withIt = xfrmSupported(new Set(['rfc7539esp(chacha20,poly1305)', 'cbc(aes)', 'aes']));
    expect(withIt.encrypt.map((a) => a.id)).toContain(CHACHA);
    expect(xfrmSupported(new Set(['cbc(aes)', 'aes'])).encrypt.map((a) => a.id)).not.toContain(CHACHA);
  });

  it('setkey knows it: -E chacha20-poly1305 takes a 288-bit key and -D prints its name', () => {
    expect(findSetkeyAlgorithm('encrypt', 'chacha20-poly1305')).toMatchObject({ sadb: CHACHA, keyBits: { min: 288, max: 288 } });
    expect(dumpAlgorithmName('encrypt', CHACHA)).toBe('chacha20-poly1305');
  });
});

function registerReply(encrypt: number[], auth: number[] = [SadbAalg.SHA2_256HMAC]): PfKeyMessage {
  const all = supportedLists();
  const pick = (list: SadbAlg[], ids: number[]) => list.filter((a) => ids.includes(a.id));
  return { type: SadbMsgType.REGISTER, satype: 3, errno: 0, seq: 0, pid: 0, ext: { supportedEncrypt: { algs: pick(all.encrypt, encrypt) }, supportedAuth: { algs: pick(all.auth, auth) } } };
}

function pair(espA: { id: number; keyBits?: number }[], espB: { id: number; keyBits?: number }[]) {
  const net = new VirtualNet();
  const { a, b } = pskPair();
  a.children[0].proposals = espA.map((e) => ({ encr: [e], integ: [], dh: [], esn: [0] }));
  b.children[0].proposals = espB.map((e) => ({ encr: [e], integ: [], dh: [], esn: [0] }));
  const A = net.add('A', '10.99.0.1', [a], { crypto: registryCryptoPort }, 0xa0000000);
  const B = net.add('B', '10.99.0.2', [b], { crypto: registryCryptoPort }, 0xb0000000);
  return { net, A, B };
}
const updates = (n: Node) => n.kernel.log.filter((m) => m.type === SadbMsgType.UPDATE || m.type === SadbMsgType.ADD);
const GCM16 = { id: 20, keyBits: 128 };
const CHACHA_ESP = { id: 28 };

describe('IKEv2 CHILD_SA with ESP ChaCha20-Poly1305', () => {
  it('both ends install UPDATE/ADD with encrypt 251 and a 288-bit key', () => {
    const { net, A, B } = pair([CHACHA_ESP], [CHACHA_ESP]);
    A.engine.initiate('v2psk', 0);
    net.pump();
    for (const n of [A, B]) {
      const m = updates(n);
      expect(m).toHaveLength(2);
      for (const x of m) {
        expect(x.ext.sa).toMatchObject({ encrypt: CHACHA, auth: SadbAalg.NONE });
        expect(x.ext.keyEncrypt!.bits).toBe(288);
      }
    }
    expect(updates(A)[0].ext.keyEncrypt!.key).toEqual(updates(B)[1].ext.keyEncrypt!.key);
  });
});

describe('only installable ESP algorithms are offered and accepted (kernel SADB_REGISTER lists)', () => {
  it('initiator: a kernel without 251 makes it offer AES-GCM only, and says so once', () => {
    const { net, A, B } = pair([CHACHA_ESP, GCM16], [CHACHA_ESP, GCM16]);
    A.engine.receivePfKey(registerReply([SadbEalg.AES_GCM_ICV16]), 0);
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(updates(A)[0].ext.sa!.encrypt).toBe(SadbEalg.AES_GCM_ICV16);
    expect(updates(B)[0].ext.sa!.encrypt).toBe(SadbEalg.AES_GCM_ICV16);
    const warn = A.logs.filter((l) => /ESP algorithm chacha20-poly1305 is not supported by the kernel/.test(l.msg));
    expect(warn).toHaveLength(1);
    expect(warn[0].msg).toContain('neither offered nor accepted');
  });

  it('responder: a peer offering only ChaCha20 gets NO_PROPOSAL_CHOSEN when our kernel cannot install it; the IKE_SA stays', () => {
    const { net, A, B } = pair([CHACHA_ESP], [CHACHA_ESP, GCM16]);
    B.engine.receivePfKey(registerReply([SadbEalg.AES_GCM_ICV16, SadbEalg.AESCBC]), 0);
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(B.engine.ikeSas()[0].state).toBe('established');
    expect(B.engine.ikeSas()[0].children).toHaveLength(0);
    expect(A.logs.some((l) => l.msg === 'no proposal chosen' && l.notify === NotifyType[NotifyType.NO_PROPOSAL_CHOSEN])).toBe(true);
    expect(updates(B)).toHaveLength(0);
    expect(B.logs.some((l) => /chacha20-poly1305 is not supported by the kernel/.test(l.msg))).toBe(true);
  });

  it('a child with nothing installable is not negotiated at all (no GETSPI), with an error naming it', () => {
    const { net, A } = pair([CHACHA_ESP], [CHACHA_ESP]);
    A.engine.receivePfKey(registerReply([SadbEalg.AESCBC]), 0);
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(A.engine.ikeSas()[0].state).toBe('established');
    expect(A.kernel.log.filter((m) => m.type === SadbMsgType.GETSPI)).toHaveLength(0);
    expect(A.logs.some((l) => /CHILD_SA .*: no ESP proposal the kernel can install: not negotiated/.test(l.msg))).toBe(true);
  });

  it('registerWithKernel() sends SADB_REGISTER for ESP (RFC 2367 §3.1.2)', () => {
    const { A } = pair([GCM16], [GCM16]);
    A.engine.registerWithKernel(0);
    const sent = A.engine.pollActions().filter((a) => a.kind === 'pfkey');
    expect(sent).toEqual([expect.objectContaining({ msg: expect.objectContaining({ type: SadbMsgType.REGISTER, satype: 3 }) })]);
  });
});
