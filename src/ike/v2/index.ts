/** The IKEv2 engine's public surface, for src/daemon. */
export { Ikev2Engine } from './engine';
export type { Ikev2Action, Ikev2EngineOptions, Ikev2LogEvent, IkeSaInfo, ChildSaInfo, DeadPeer } from './engine';
export { validatePeerConfig, tsFromCidr } from './config';
export type { AuthConfig, ChildConfig, ChildProposalConfig, IkeProposalConfig, Ikev2Identity, Ikev2PeerConfig, LifetimeConfig, TrafficSelectorConfig } from './config';
export { registryCryptoPort, deterministicRegistryCryptoPort, createRegistryCryptoPort } from './crypto-registry-port';
export type { IkeCryptoPort, RandomSource } from './crypto-port';
export { nodePubkeyPort } from './x509-node-port';
export type { PubkeyPort } from './pubkey';
export { parseMessage, generateMessage } from './payloads';
