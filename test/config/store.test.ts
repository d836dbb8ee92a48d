/**
 * Reload (issue 6: "A config that fails to parse never replaces a running one").
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RacoonConfigStore } from '../../src/config/racoon';
import { PROPOSAL } from './helpers';

describe('RacoonConfigStore.reload', () => {
  test('a broken file leaves the running configuration in place; a good one replaces it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tanuki-store-'));
    try {
      const f = path.join(dir, 'racoon.conf');
      fs.writeFileSync(f, `remote 192.0.2.1 { exchange_mode main; ${PROPOSAL} }\n`);
      const store = new RacoonConfigStore(f);
      expect(store.current).toBeNull();
      const first = store.reload();
      expect(first.ok).toBe(true);
      const running = store.current;
      expect(running?.remotes[0].name).toBe('192.0.2.1[500]');

      fs.writeFileSync(f, `remote 192.0.2.2 { exchange_mode main; }\n`);
      const bad = store.reload();
      expect(bad).toMatchObject({ ok: false, kept: running });
      expect(!bad.ok && bad.errors[0].message).toBe('no remote specification found: 192.0.2.2[500].');
      expect(store.current).toBe(running);

      fs.writeFileSync(f, `remote 192.0.2.3 { exchange_mode main; ${PROPOSAL} }\n`);
      expect(store.reload().ok).toBe(true);
      expect(store.current?.remotes[0].name).toBe('192.0.2.3[500]');

      fs.rmSync(f);
      expect(store.reload()).toMatchObject({ ok: false });
      expect(store.current?.remotes[0].name).toBe('192.0.2.3[500]');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
