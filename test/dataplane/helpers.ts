/** Load setkey scripts into an in-process UserspaceKernel (the same parser and compiler `setkey -f` uses). */
import { compileSetkeyScript } from '../../src/config/setkey/compile';
import { parseSetkeyScript } from '../../src/config/setkey/parser';
import { UserspaceKernel } from '../../src/kernel/userspace/kernel';
import type { PfKeyMessage } from '../../src/pfkey/types';

export async function loadSetkey(kernel: UserspaceKernel, script: string): Promise<PfKeyMessage[]> {
  const parsed = parseSetkeyScript(script, { file: 'test' });
  if (!parsed.ok) throw new Error(`setkey script: ${parsed.error.message}`);
  const compiled = await compileSetkeyScript(parsed.commands, { rfcMode: false, pid: 1, resolve: async (h) => [h] });
  if (!compiled.ok) throw new Error(`setkey script: ${compiled.error.message}`);
  const replies: PfKeyMessage[] = [];
  const ep = kernel.attach((m) => replies.push(m));
  for (const step of compiled.steps) if (step.kind === 'send') for (const m of step.messages) ep.send(m);
  ep.close();
  const refused = replies.filter((r) => r.errno !== 0);
  if (refused.length > 0) throw new Error(`kernel refused ${refused.length} message(s): errno ${refused.map((r) => r.errno).join(',')}`);
  return replies;
}

/** Wait until cond() holds (polling the event loop), or fail after ms. */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
