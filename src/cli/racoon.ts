/** `racoon` entry point (see README). */
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('racoon: not built yet in this revision\n');
  return 1;
}
