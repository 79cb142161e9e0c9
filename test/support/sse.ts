/** One Server-Sent Event as a test reads it: its name, id (NaN when absent) and parsed JSON data. */
export interface Sse {
  event: string;
  id: number;
  data: any;
}

/** Reads an SSE response to its end: every event with its name, id and parsed data. */
export async function readEvents(res: Response): Promise<Sse[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('data:'))
    .map((block) => {
      const lines = block.split('\n');
      const event =
        lines
          .find((l) => l.startsWith('event:'))
          ?.slice(6)
          .trim() ?? 'message';
      const id = Number(
        lines
          .find((l) => l.startsWith('id:'))
          ?.slice(3)
          .trim(),
      );
      const data = lines
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n');
      return { event, id, data: JSON.parse(data) };
    });
}
