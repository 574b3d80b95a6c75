/**
 * The event exchange of berthd (containerd's events/exchange): services publish, shims' events are
 * forwarded, clients subscribe with containerd filters over the envelope (`topic`, `namespace`,
 * `event.<field>`). Delivery to each subscriber is in order and unbounded (a slow subscriber never blocks
 * publishers or loses events); a subscription is registered synchronously, so nothing published after
 * `subscribe` returns is missed.
 *
 *   exchange.publish('default', '/containers/create', packAny('containerd.events.ContainerCreate', {...}));
 *   for await (const env of exchange.subscribe(['topic~=|^/tasks/|'], signal)) { ... }
 */
import { InvalidArgument } from '../../pkg/errdefs';
import { isValidIdentifier, validateIdentifier } from '../../pkg/identifiers';
import type { Logger } from '../../pkg/log';
import type { AnyMessage } from '../../proto/any';
import { toTimestamp, type Timestamp } from '../../proto/timestamp';
import { parseAll, type Filter } from '../filters';
import { envelopeAdaptor } from './adaptor';

/** `containerd.services.events.v1.Envelope`. */
export interface Envelope {
  timestamp: Timestamp;
  namespace: string;
  topic: string;
  event: AnyMessage;
}

/** containerd's validateTopic: `/` followed by one or more identifier components separated by `/`. */
export function validateTopic(topic: string): void {
  const fail = (why: string): never => {
    throw new InvalidArgument(`envelope topic "${topic}": ${why}: invalid argument`);
  };
  if (topic === '') fail('must not be empty');
  if (topic[0] !== '/') fail("must start with '/'");
  if (topic.length === 1) fail('must have at least one component');
  for (const component of topic.slice(1).split('/')) {
    try {
      validateIdentifier(component);
    } catch (err) {
      fail(`failed validation on component "${component}": ${(err as Error).message}`);
    }
  }
}

/** containerd's validateEnvelope (for Forward). */
export function validateEnvelope(env: Envelope): void {
  if (!isValidIdentifier(env.namespace)) {
    throw new InvalidArgument(`event envelope has invalid namespace: identifier "${env.namespace}" is not valid: invalid argument`);
  }
  validateTopic(env.topic);
  if (!env.timestamp || (Number(env.timestamp.seconds) === 0 && Number(env.timestamp.nanos) === 0)) {
    throw new InvalidArgument('timestamp must be set on forwarded event: invalid argument');
  }
}

class Subscriber {
  private queue: Envelope[] = [];
  private wake: (() => void) | null = null;
  closed = false;

  constructor(readonly filter: Filter | null) {}

  push(env: Envelope): void {
    if (this.closed) return;
    if (this.filter && !this.filter.match(envelopeAdaptor(env))) return;
    this.queue.push(env);
    this.notify();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *drain(): AsyncGenerator<Envelope> {
    for (;;) {
      if (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        for (const env of batch) yield env;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

export class EventExchange {
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly log?: Logger) {}

  /** Publishes an event as its first publisher (timestamp now unless given). Throws on an invalid topic. */
  publish(namespace: string, topic: string, event: AnyMessage, timestamp?: Date): void {
    validateTopic(topic);
    const env: Envelope = { timestamp: toTimestamp(timestamp ?? new Date()), namespace, topic, event };
    this.broadcast(env);
  }

  /** Distributes an envelope published elsewhere (a shim, another daemon) unchanged. Throws when invalid. */
  forward(envelope: Envelope): void {
    validateEnvelope(envelope);
    this.broadcast(envelope);
  }

  /**
   * Envelopes published from now on that match any of `filters` (all when none), until `signal` aborts or
   * the exchange closes. Throws InvalidArgument at once on a malformed filter.
   */
  subscribe(filters: readonly string[], signal: AbortSignal): AsyncIterable<Envelope> {
    const filter = filters.length > 0 ? parseAll(filters) : null;
    const sub = new Subscriber(filter);
    if (signal.aborted) sub.close();
    else {
      this.subscribers.add(sub);
      this.log?.debug('subscription opened', { subscribers: this.subscribers.size });
      signal.addEventListener('abort', () => this.unsubscribe(sub), { once: true });
    }
    const unsubscribe = (): void => this.unsubscribe(sub);
    return {
      [Symbol.asyncIterator]: () => {
        const it = sub.drain();
        return {
          next: () => it.next(),
          return: async (value?: unknown) => {
            unsubscribe();
            return it.return(value as undefined);
          },
        };
      },
    };
  }

  /** Number of live subscriptions (for tests and introspection). */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Ends every subscription (daemon shutdown). */
  close(): void {
    for (const sub of this.subscribers) sub.close();
    this.subscribers.clear();
  }

  private unsubscribe(sub: Subscriber): void {
    sub.close();
    if (this.subscribers.delete(sub)) this.log?.debug('subscription closed', { subscribers: this.subscribers.size });
  }

  private broadcast(env: Envelope): void {
    this.log?.debug('event', { topic: env.topic, namespace: env.namespace, type: env.event?.type_url });
    for (const sub of this.subscribers) {
      try {
        sub.push(env);
      } catch (err) {
        this.log?.error('event filter failed', { topic: env.topic, error: (err as Error).message });
      }
    }
  }
}
