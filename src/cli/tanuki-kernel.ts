/** `tanuki-kernel` entry point (see README). */
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('tanuki-kernel: not built yet in this revision\n');
  return 1;
}
