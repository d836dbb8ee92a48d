/**
 * The fallback of the default ESP path: when the libcrypto shim cannot be built (here: no C
 * compiler, CC pointing nowhere, and an empty shim cache), the provider reports why exactly
 * once and every SA runs on node:crypto with the same packets on the wire (RFC 4106 / RFC 4303
 * framing unchanged). jest loads this file's modules fresh, so the choice is made here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastAeadStatus } from '../../src/crypto/openssl-aead';

const cacheDir = mkdtempSync(join(tmpdir(), 'tanuki-nocc-'));
const saved = { CC: process.env['CC'], DIR: process.env['TANUKI_NATIVE_DIR'] };
process.env['CC'] = '/nonexistent/cc';
process.env['TANUKI_NATIVE_DIR'] = cacheDir;

afterAll(() => {
  if (saved.CC === undefined) delete process.env['CC'];
  else process.env['CC'] = saved.CC;
  if (saved.DIR === undefined) delete process.env['TANUKI_NATIVE_DIR'];
  else process.env['TANUKI_NATIVE_DIR'] = saved.DIR;
  rmSync(cacheDir, { recursive: true, force: true });
});

test('without a C compiler: one report, node:crypto SAs, packets identical to a node:crypto reference', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const provider = require('../../src/xform/crypto-provider') as typeof import('../../src/xform/crypto-provider');
  const { EspSa } = require('../../src/xform/esp') as typeof import('../../src/xform/esp');
  const { algorithmById } = require('../../src/crypto/registry') as typeof import('../../src/crypto/registry');
  const { createNodeAead } = require('../../src/crypto/aead') as typeof import('../../src/crypto/aead');
  const { createNodeCipher } = require('../../src/crypto/cipher') as typeof import('../../src/crypto/cipher');
  const { createNodeMac } = require('../../src/crypto/mac') as typeof import('../../src/crypto/mac');
  const { espSa, udp4 } = require('./helpers') as typeof import('./helpers');
  const reports: FastAeadStatus[] = [];
  provider.setCryptoBackendReporter((s) => reports.push(s));
  const sa = () => espSa({ encr: algorithmById('encr', 'aes-gcm-16'), encrKey: Buffer.alloc(20, 1), natt: { sport: 4500, dport: 4500 } });
  const a = new EspSa(sa(), provider.registryProvider);
  const b = new EspSa(sa(), provider.registryProvider);
  expect(reports).toHaveLength(1);
  expect(reports[0]).toEqual({ enabled: false, reason: expect.stringContaining('fast AEAD unavailable') });
  expect(provider.selectCryptoBackend().enabled).toBe(false);
  expect(a.batched).toBe(false);
  const ref = new EspSa(sa(), { createAead: createNodeAead, createCipher: createNodeCipher, createMac: createNodeMac });
  const pkts = Array.from({ length: 8 }, (_, i) => udp4('10.0.0.1', '10.0.1.1', Buffer.alloc(i * 50, i)));
  const got = a.outputBatch(pkts);
  const want = pkts.map((p) => ref.output(p));
  got.forEach((r, i) => {
    const w = want[i]!;
    expect(r.ok && w.ok && r.value.subarray(20).equals(w.value.subarray(20))).toBe(true);
  });
  const back = b.inputBatch(got.map((r) => (r.ok ? r.value : Buffer.alloc(0))));
  back.forEach((r, i) => expect(r.ok && r.value.packet.equals(pkts[i]!)).toBe(true));
  expect(reports).toHaveLength(1); // reported once, not per SA
});

test('TANUKI_CRYPTO=node is honoured and reported', () => {
  jest.isolateModules(() => {
    process.env['TANUKI_CRYPTO'] = 'node';
    try {
      const provider = require('../../src/xform/crypto-provider') as typeof import('../../src/xform/crypto-provider');
      const reports: FastAeadStatus[] = [];
      provider.setCryptoBackendReporter((s) => reports.push(s));
      expect(provider.selectCryptoBackend()).toEqual({ enabled: false, reason: 'TANUKI_CRYPTO=node' });
      expect(reports).toEqual([{ enabled: false, reason: 'TANUKI_CRYPTO=node' }]);
    } finally {
      delete process.env['TANUKI_CRYPTO'];
    }
  });
});
