/**
 * Issue 5 proof against a real strongSwan 5.9.8 charon (kernel-libipsec, own
 * network namespace; reference strongswan-interop.md §1, §5 for the IKEv1
 * numbers): IKEv1 with pre-shared keys and with RSA signatures (X.509
 * certificates from a test CA made with openssl; charon authenticates tanuki
 * with RSA_EMSA_PKCS1_NULL), tunnel mode, UDP-encapsulated (libipsec
 * forces NAT-T, so both sides float to 4500 — RFC 3947 §4).
 *
 * Every lab first passes the establishment verdict: `swanctl --list-sas --raw`
 * shows the IKE_SA ESTABLISHED with version 1, the expected role, encryption,
 * integrity and D-H group, and exactly one CHILD_SA INSTALLED whose spi-in and
 * spi-out are SAs in tanuki's own kernel (`setkey -D`), both mature and
 * UDP-encapsulated; `racoonctl show-sa isakmp` lists the same cookies. Then the
 * lab runs its behaviours (src/interop/ikev1.ts):
 *  - phase-2 rekey by charon (`swanctl --rekey`, RFC 2409 §5.5 with PFS) and by
 *    tanuki on the kernel's soft EXPIRE (racoon: the initiator renegotiates);
 *    the old SAs must leave tanuki's kernel (charon's Delete with delete_rekeyed,
 *    or the hard lifetime);
 *  - phase-1 rekey by tanuki (racoon `rekey force`: new phase 1, the IPsec-SAs
 *    move over, the expired ISAKMP-SA is deleted);
 *  - delete from each side (racoon purge_remote: Delete per IPsec-SA, then of the
 *    ISAKMP-SA; swanctl --terminate): no SA left on either peer;
 *  - DPD (RFC 3706): charon is SIGKILLed, tanuki declares it dead after
 *    dpd_maxfail unanswered R-U-THERE and removes every SA.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPrerequisites, formatMissing } from '../../src/interop/prereq';
import { IKEV1_ESP, IKEV1_IKE, ikev1Scenario, runIkev1Scenario, withRsaSig, type Ikev1Scenario } from '../../src/interop/ikev1';

const base = mkdtempSync(join(tmpdir(), 'tanuki-interop-v1-'));
const [modp2048, ecp256] = [0, 1];

const labs: { why: string; s: Ikev1Scenario }[] = [
  {
    why: 'Main Mode PSK, tanuki initiates; AES-128/SHA1/modp2048, Quick Mode PFS modp2048; then charon rekeys the phase 2 and charon deletes',
    s: ikev1Scenario('tanuki', 'main', IKEV1_IKE[modp2048], IKEV1_ESP[modp2048], 'rekey-ph2-by-charon', 'delete-by-charon'),
  },
  {
    why: 'Main Mode with RSA signatures (X.509, CA-issued, CR/CERT both ways), charon initiates; AES-256/SHA2-256/ecp256, Quick Mode PFS ecp256 with HMAC-SHA2-256; then tanuki deletes (purge_remote)',
    s: withRsaSig(ikev1Scenario('charon', 'main', IKEV1_IKE[ecp256], IKEV1_ESP[ecp256], 'delete-by-tanuki')),
  },
  {
    why: 'Aggressive Mode PSK, tanuki initiates; tanuki rekeys the phase 1 at its 6 s lifetime (rekey force), then the phase 2 on its soft EXPIRE (80 %)',
    s: ikev1Scenario('tanuki', 'aggressive', IKEV1_IKE[modp2048], IKEV1_ESP[modp2048], 'rekey-ph1-by-tanuki', 'rekey-ph2-by-tanuki'),
  },
  {
    why: 'Aggressive Mode PSK, charon initiates (AES-256/SHA2-256/ecp256); DPD dpd_delay 1, dpd_retry 1, dpd_maxfail 2; charon is killed',
    s: ikev1Scenario('charon', 'aggressive', IKEV1_IKE[ecp256], IKEV1_ESP[ecp256], 'dpd-kill-charon'),
  },
];

describe('tanuki ↔ strongSwan charon, IKEv1 PSK and RSA signatures (RFC 2409 Main/Aggressive + Quick Mode, RFC 3947, RFC 3706)', () => {
  it('has its prerequisites (root, ip netns, charon, swanctl, kernel-libipsec, tanuki build)', () => {
    expect(formatMissing(checkPrerequisites())).toBe('');
  });

  for (const { why, s } of labs) {
    it(`${why}`, async () => {
      const r = await runIkev1Scenario(s, { dir: join(base, s.name), timeoutMs: 15000 });
      const failed = [...(r.error ? [`error: ${r.error}`] : []), ...r.checks.filter((c) => !c.startsWith('ok'))];
      expect({ failed, charonLog: failed.length ? r.charonLog : [], tanukiLog: failed.length ? r.tanukiLog : [] }).toEqual({ failed: [], charonLog: [], tanukiLog: [] });
      // the establishment verdict and every behaviour ran (each behaviour leaves an "ok -- <name>" marker)
      for (const b of s.behaviours) expect(r.checks).toContain(`ok -- ${b}`);
      expect(r.checks.some((c) => /^ok tanuki holds outbound SA 0x[0-9a-f]{8} \(charon spi-in\)/.test(c))).toBe(true);
      expect(r.result).toBe('pass');
    }, 60000);
  }
});
