/**
 * The one Server-Sent Events parser of FetchBox's clients: `GET /jobs/{jobId}/events` is read by
 * {@link FetchBoxClient.events} and, through it, by `fetchbox jobs tail`.
 */

/** One server-sent event: its name (`message` when the block names none) and its data lines joined. */
export interface SseEvent {
  event: string;
  data: string;
}

/** Splits complete `\n\n`-terminated SSE blocks off `buffer`; comments and data-less blocks are skipped. */
export function takeSseEvents(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  let rest = buffer;
  for (let cut = rest.indexOf('\n\n'); cut !== -1; cut = rest.indexOf('\n\n')) {
    const block = rest.slice(0, cut);
    rest = rest.slice(cut + 2);
    const lines = block.split('\n');
    const data = lines
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!data) continue;
    const event =
      lines
        .find((l) => l.startsWith('event:'))
        ?.slice(6)
        .trim() || 'message';
    events.push({ event, data });
  }
  return { events, rest };
}
