/**
 * The task abstraction (strongSwan sa/task.h): each exchange feature is a task
 * with build/process for each role; several tasks write into one message.
 */
import type { PfKeyMessage } from '../../../pfkey/types';
import type { ChildConfig, ChildProposalConfig, Ikev2PeerConfig } from '../config';
import type { IkeCryptoPort, RandomSource } from '../crypto-port';
import type { PubkeyPort } from '../pubkey';
import type { IkeSa } from '../ike-sa';
import type { InnerPayload, Payload } from '../payloads';

export type TaskKind = 'ike_init' | 'ike_auth' | 'child_create' | 'child_rekey' | 'ike_rekey' | 'ike_delete' | 'child_delete' | 'ike_dpd' | 'ike_mobike';

/**
 * done   — the task is finished
 * retry  — send the request again with the same message ID (COOKIE / INVALID_KE_PAYLOAD, RFC 7296 §2.6, §1.2)
 * failed — the IKE SA is torn down
 * child-failed — the CHILD_SA part failed, the IKE SA stays (RFC 7296 §2.21.3)
 * destroy — the exchange completed and the IKE SA goes away (Delete of the IKE SA)
 */
export type TaskResult = 'done' | 'retry' | 'failed' | 'child-failed' | 'destroy';

export type PfKeyRequest = Omit<PfKeyMessage, 'seq' | 'pid'>;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogFields {
  childSpi?: number;
  exchange?: string;
  messageId?: number;
  [k: string]: string | number | boolean | undefined;
}

/** What the engine offers to tasks. */
export interface Services {
  readonly crypto: IkeCryptoPort;
  readonly random: RandomSource;
  /** certificate support (RFC 7427); null = public-key authentication refused */
  readonly pubkey: PubkeyPort | null;
  now(): number;
  log(level: LogLevel, msg: string, sa: IkeSa | null, fields?: LogFields): void;
  /** send a PF_KEY request whose reply is routed to task.onPfKeyReply */
  pfkeyRequest(sa: IkeSa, task: Task, msg: PfKeyRequest): void;
  /** send a PF_KEY message; a reply is only checked for errno and logged */
  pfkeySend(sa: IkeSa | null, msg: PfKeyRequest): void;
  allocateReqid(child: ChildConfig): number;
  /** the child's ESP proposals cut to what the kernel can install (its SADB_REGISTER lists), with a log line for what is left out */
  childProposalsFor(sa: IkeSa, child: ChildConfig): ChildProposalConfig[];
  peerConfigs(): readonly Ikev2PeerConfig[];
  /** other live IKE SAs with the same peer identity (INITIAL_CONTACT, RFC 7296 §2.4) */
  otherSasWithPeer(sa: IkeSa): IkeSa[];
  /** tear down an IKE SA and its CHILD_SAs locally, without any message */
  destroyIkeSa(sa: IkeSa, reason: string): void;
  /** queue an exchange on an IKE SA (e.g. the delete of a rekeyed CHILD_SA) */
  queueExchange(sa: IkeSa, exchangeType: number, tasks: Task[]): void;
  /** register a new IKE SA that took over from another one (IKE_SA rekey) */
  adoptIkeSa(sa: IkeSa): void;
  newSerial(): number;
  /** a fresh, unused, non-zero IKE SPI */
  newIkeSpi(): bigint;
}

export interface Task {
  readonly kind: TaskKind;
  /** called once before build (either role); may issue PF_KEY requests */
  prepare?(svc: Services, sa: IkeSa): void;
  /** true while PF_KEY replies are awaited */
  pending?(): boolean;
  onPfKeyReply?(svc: Services, sa: IkeSa, msg: PfKeyMessage): void;
  buildRequest?(svc: Services, sa: IkeSa, out: Payload[]): void;
  processResponse?(svc: Services, sa: IkeSa, payloads: readonly Payload[]): TaskResult;
  processRequest?(svc: Services, sa: IkeSa, payloads: readonly Payload[]): void;
  buildResponse?(svc: Services, sa: IkeSa, out: InnerPayload[] | Payload[]): TaskResult;
  /** the exchange will not complete: release what prepare reserved */
  abort?(svc: Services, sa: IkeSa): void;
}
