/**
 * The parsed form of a setkey script: one SetkeyCommand per statement,
 * before name resolution and before any PF_KEY message is built.
 */
import type { IpsecDir, IpsecMode, SadbSaType } from '../../pfkey/constants';
import type { SadbXIpsecRequest, SadbXPolicy, SockAddr } from '../../pfkey/types';
import type { SourcePos } from './errors';

/** `-4`, `-6`, `-n` before the addresses (parse.y ipaddropts). */
export interface AddrOptions {
  family?: 4 | 6;
  numericOnly: boolean;
}

/** A host (address literal or name) as written, with its optional [port]. */
export interface HostSpec {
  host: string;
  pos: SourcePos;
  /** 0 = any/unspecified. */
  port: number;
}

/** SRC_RANGE / DST_RANGE of the SPD commands: host[/prefix][[port]|[any]]. */
export interface RangeSpec extends HostSpec {
  prefixlen?: number;
  prefixPos?: SourcePos;
}

export interface SecCtxSpec {
  doi: number;
  alg: number;
  /** The context string; sent with its terminating NUL like setkey. */
  text: string;
}

/** PROTO of the SA commands (parse.y protocol_spec). */
export interface ProtoSpec {
  satype: SadbSaType;
  /** esp-old / ah-old (SADB_X_EXT_OLD). */
  old: boolean;
  /** esp-udp: RFC 3948 UDP encapsulation. */
  espInUdp: boolean;
  natOa?: HostSpec;
  pos: SourcePos;
}

export interface SaExtensions {
  mode: IpsecMode;
  reqid: number;
  replay: number;
  /** sadb_sa_flags as setkey builds them (SADB_X_EXT_CYCSEQ by default). */
  flags: number;
  lifetimeHard: { addtime: bigint; bytes: bigint };
  lifetimeSoft: { addtime: bigint; bytes: bigint };
  secCtx?: SecCtxSpec;
}

export interface AlgorithmSpec {
  encrypt: number;
  auth: number;
  keyEncrypt?: Buffer;
  keyAuth?: Buffer;
}

interface Base {
  /** Line of the command's first token (for "The result of line N"). */
  line: number;
  pos: SourcePos;
}

export interface SaCommand extends Base {
  kind: 'add' | 'getspi' | 'get' | 'delete';
  options: AddrOptions;
  src: HostSpec;
  dst: HostSpec;
  proto: ProtoSpec;
  spi: number;
  ext: SaExtensions;
  alg: AlgorithmSpec;
}

export interface DeleteAllCommand extends Base {
  kind: 'deleteall';
  options: AddrOptions;
  src: HostSpec;
  dst: HostSpec;
  proto: ProtoSpec;
}

export interface FlushDumpCommand extends Base {
  kind: 'flush' | 'dump';
  satype: SadbSaType;
}

export interface SpdCommand extends Base {
  kind: 'spdadd' | 'spdupdate' | 'spddelete';
  options: AddrOptions;
  src: RangeSpec;
  dst: RangeSpec;
  upper: number;
  secCtx?: SecCtxSpec;
  policy: SadbXPolicy;
}

export interface SpdSimpleCommand extends Base {
  kind: 'spdflush' | 'spddump';
}

/** tanuki's `migrate` (issue 7): play the Mobile IPv6 daemon. */
export interface MigrateCommand extends Base {
  kind: 'migrate';
  options: AddrOptions;
  src: RangeSpec;
  dst: RangeSpec;
  upper: number;
  dir: IpsecDir;
  /** (old, new) pairs, flattened in order: old0, new0, old1, new1, ... */
  requests: SadbXIpsecRequest[];
  kmaddress?: { local: SockAddr; remote: SockAddr };
}

export type SetkeyCommand =
  | SaCommand
  | DeleteAllCommand
  | FlushDumpCommand
  | SpdCommand
  | SpdSimpleCommand
  | MigrateCommand;

export interface SetkeyWarning {
  line: number;
  column: number;
  message: string;
}
