import { VnfError } from '@vnf/core';
import type { Bus, BusMember, BusMessage } from '@vnf/protocol';

/**
 * Brokers of one process on one bus: share it (and a Router, and a registry store) between `Broker` instances and
 * endpoints on different brokers talk as if on one. Delivery is asynchronous (a microtask after `send`), in order
 * between two members, so that a broker is never re-entered from inside its own call.
 */
export class MemoryBus implements Bus {
  private readonly members = new Map<string, (message: BusMessage) => void>();
  private readonly queue: { node: string; message: BusMessage }[] = [];
  private scheduled = false;

  join(node: string, receive: (message: BusMessage) => void): BusMember {
    if (typeof node !== 'string' || node.length === 0) throw new VnfError('INVALID_ARGUMENT', 'A bus member needs a node id.');
    if (this.members.has(node)) throw new VnfError('INVALID_ARGUMENT', `Node "${node}" already joined this bus; give each broker its own node id.`);
    this.members.set(node, receive);
    return {
      send: (to, message) => this.enqueue(to, message),
      leave: () => {
        if (this.members.get(node) !== receive) return;
        this.members.delete(node);
        for (const other of this.members.keys()) this.enqueue(other, { t: 'down', node });
      },
    };
  }

  private enqueue(node: string, message: BusMessage): void {
    this.queue.push({ node, message });
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.deliver());
  }

  private deliver(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0);
    for (const { node, message } of batch) this.members.get(node)?.(message);
  }
}
