import { createParser } from 'eventsource-parser';

/** One Server-Sent Event as a test reads it: its name, id (NaN when absent) and parsed JSON data. */
export interface Sse {
  event: string;
  id: number;
  data: any;
}

/** Reads an SSE response to its end with the parser the typed client uses: every event with its name, id and parsed data. */
export async function readEvents(res: Response): Promise<Sse[]> {
  const events: Sse[] = [];
  const parser = createParser({
    onEvent: ({ event = 'message', id, data }) => void events.push({ event, id: Number(id ?? NaN), data: JSON.parse(data) }),
  });
  parser.feed(await res.text());
  parser.reset({ consume: true });
  return events;
}
