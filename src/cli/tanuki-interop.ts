/** `tanuki-interop` entry point (see README). */
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('tanuki-interop: not built yet in this revision\n');
  return 1;
}
