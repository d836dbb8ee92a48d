/**
 * Readable explanations attached to PF_KEY error replies. A reply can carry
 * only an errno (RFC 2367 §1.8 sadb_msg_errno); a backend that knows more
 * (the XFRM backend: "the kernel has no ESP support (esp4/esp6 modules
 * missing)") attaches the text to the reply object, and tools print it.
 */
import type { PfKeyMessage } from './types';

const explanations = new WeakMap<PfKeyMessage, string>();

/** The explanation a backend attached to this reply, if any. */
export function explainReply(reply: PfKeyMessage): string | undefined {
  return explanations.get(reply);
}

export function attachExplanation(reply: PfKeyMessage, text: string): PfKeyMessage {
  explanations.set(reply, text);
  return reply;
}
