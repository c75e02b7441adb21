import { EventEmitter } from 'node:events';
import type { StudyResult, StudyResultEvent } from '../results/study-result';

/**
 * Finished study results as a stream: each gets a strictly increasing event id, and the last `capacity` events are
 * kept so a client that reconnects with the last id it saw gets what it missed.
 */
export class ResultFeed {
  private readonly emitter = new EventEmitter();
  private readonly history: StudyResultEvent[] = [];
  private nextId = 1;

  constructor(private readonly capacity = 1000) {
    this.emitter.setMaxListeners(0);
  }

  publish(result: StudyResult): StudyResultEvent {
    const event: StudyResultEvent = { eventId: this.nextId++, result };
    this.history.push(event);
    if (this.history.length > this.capacity) this.history.splice(0, this.history.length - this.capacity);
    this.emitter.emit('result', event);
    return event;
  }

  /** Id of the last event published (0 when none). */
  get lastEventId(): number {
    return this.nextId - 1;
  }

  /** Events after `eventId` still in the history, oldest first. `truncated`: some were already dropped. */
  since(eventId: number): { events: StudyResultEvent[]; truncated: boolean } {
    const events = this.history.filter((e) => e.eventId > eventId);
    const oldest = this.history[0]?.eventId ?? this.nextId;
    return { events, truncated: eventId + 1 < oldest && this.nextId - 1 > eventId };
  }

  /** Calls `listener` for every new event; returns the function that unsubscribes. */
  subscribe(listener: (event: StudyResultEvent) => void): () => void {
    this.emitter.on('result', listener);
    return () => this.emitter.off('result', listener);
  }
}
