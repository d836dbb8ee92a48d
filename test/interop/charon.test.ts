/**
 * Issue 4/9 proof against a real strongSwan 5.9.8 charon (kernel-libipsec, own
 * network namespace; reference strongswan-interop.md §1): IKEv2 PSK with
 * AES-GCM-16/PRF-HMAC-SHA2-256/Curve25519 and ESP AES-GCM-16, once with tanuki
 * initiating (racoonctl establish-sa) and once with charon initiating
 * (swanctl --initiate). Passes only if `swanctl --list-sas --raw` shows the
 * IKE_SA ESTABLISHED and the CHILD_SA INSTALLED whose spi-in/spi-out are the
 * SPIs of tanuki's outbound/inbound SAs in its own kernel (setkey -D).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPrerequisites, formatMissing } from '../../src/interop/prereq';
import { runScenario } from '../../src/interop/runner';
import { scenarios } from '../../src/interop/scenario';
import { hex8 } from '../../src/interop/evidence';

const base = mkdtempSync(join(tmpdir(), 'tanuki-interop-test-'));

function pick(name: string) {
  const s = scenarios().find((x) => x.name === name);
  if (!s) throw new Error(`scenario ${name} is not in the matrix`);
  return s;
}

describe('tanuki ↔ strongSwan charon, IKEv2 PSK (RFC 7296 §1.2 IKE_SA_INIT + IKE_AUTH)', () => {
  it('has its prerequisites (root, ip netns, charon, swanctl, kernel-libipsec, tanuki build)', () => {
    expect(formatMissing(checkPrerequisites())).toBe('');
  });

  for (const name of ['ikev2-psk-tanuki-init-aesgcm16-sha256-x25519-esp-aesgcm16', 'ikev2-psk-charon-init-aesgcm16-sha256-x25519-esp-aesgcm16']) {
    it(`${name}: charon ESTABLISHED/INSTALLED with the SPIs tanuki's kernel holds`, async () => {
      const r = await runScenario(pick(name), { dir: join(base, name), timeoutMs: 15000 });
      const failed = [...(r.evidence.error ? [`error: ${r.evidence.error}`] : []), ...r.evidence.checks.filter((c) => !c.startsWith('ok'))];
      expect({ failed, charonLog: failed.length ? r.evidence.charonLog : [], tanukiLog: failed.length ? r.evidence.tanukiLog : [] }).toEqual({ failed: [], charonLog: [], tanukiLog: [] });
      expect(r.result).toBe('pass');
      // The SPI comparison itself, independent of the runner's verdict.
      const child = r.evidence.charon?.child;
      const sas = r.evidence.tanuki?.sas ?? [];
      expect(child?.state).toBe('INSTALLED');
      expect(r.evidence.charon?.ike?.state).toBe('ESTABLISHED');
      const outbound = sas.find((s) => s.src === '10.99.0.2');
      const inbound = sas.find((s) => s.src === '10.99.0.1');
      expect(hex8(outbound?.spi ?? 0)).toBe(hex8(child?.spiIn ?? 1));
      expect(hex8(inbound?.spi ?? 0)).toBe(hex8(child?.spiOut ?? 1));
      // kernel-libipsec forces UDP encapsulation (NAT-D faked): both sides float to 4500.
      expect(child?.encap).toBe(true);
      expect(outbound?.udpEncap).toBe(true);
    }, 40000);
  }
});
