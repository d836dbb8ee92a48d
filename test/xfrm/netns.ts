/**
 * Test helper: a private network namespace (`ip netns add tanuki-xfrm-<pid>-<n>`)
 * with loopback up and an address to send to, torn down in afterAll.
 */
import { execFileSync, spawnSync } from 'node:child_process';

let counter = 0;

export class TestNetns {
  private constructor(readonly name: string) {}

  static create(): TestNetns {
    const name = `tanuki-xfrm-${process.pid}-${counter++}`;
    execFileSync('ip', ['netns', 'add', name]);
    const ns = new TestNetns(name);
    try {
      ns.ip('link', 'set', 'lo', 'up');
      // A veth pair with both ends inside the namespace: 10.0.0.0/24 is routed
      // out of veth0, so a datagram to 10.0.0.2 goes through the output policy
      // lookup (an address on lo would make the whole prefix local).
      ns.ip('link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1');
      ns.ip('link', 'set', 'veth0', 'up');
      ns.ip('link', 'set', 'veth1', 'up');
      ns.ip('addr', 'add', '10.0.0.1/24', 'dev', 'veth0');
    } catch (e) {
      ns.destroy();
      throw e;
    }
    return ns;
  }

  /** `ip -n <ns> ...`; returns stdout, throws with stderr on failure. */
  ip(...args: string[]): string {
    const r = spawnSync('ip', ['-n', this.name, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Run a command inside the namespace (`ip netns exec`); throws with stderr on failure. */
  exec(cmd: string, ...args: string[]): string {
    const r = spawnSync('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Run `ip -n <ns> ...` under strace and return the netlink messages it sent (header + body bytes). */
  straceIp(...args: string[]): { len: number; type: number; flags: string; body: Buffer }[] {
    const r = spawnSync('strace', ['-f', '-e', 'trace=sendmsg', '-xx', '-s', '65536', 'ip', '-n', this.name, ...args], { encoding: 'utf8' });
    if (r.error) throw new Error(`cannot run strace to capture iproute2's netlink messages (apt-get install strace): ${r.error.message}`);
    const out: { len: number; type: number; flags: string; body: Buffer }[] = [];
    const re = /nlmsg_len=(\d+), nlmsg_type=(0x[0-9a-f]+|\d+)[^,]*, nlmsg_flags=([A-Z_|]+|0x[0-9a-f]+|0), nlmsg_seq=\d+, nlmsg_pid=\d+\}, "((?:\\x[0-9a-f]{2})*)"/g;
    for (const m of r.stderr.matchAll(re)) {
      out.push({ len: Number(m[1]), type: Number(m[2]), flags: m[3], body: Buffer.from(m[4].replace(/\\x/g, ''), 'hex') });
    }
    return out;
  }

  /** Send one UDP datagram from inside the namespace (a child node process). */
  sendUdp(address: string, port: number): void {
    const family = address.includes(':') ? 'udp6' : 'udp4';
    const code = `const s=require('dgram').createSocket('${family}');s.send(Buffer.from('x'),${port},'${address}',()=>s.close());s.on('error',()=>process.exit(0));setTimeout(()=>process.exit(0),500);`;
    spawnSync('ip', ['netns', 'exec', this.name, process.execPath, '-e', code], { encoding: 'utf8', timeout: 5000 });
  }

  destroy(): void {
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}
