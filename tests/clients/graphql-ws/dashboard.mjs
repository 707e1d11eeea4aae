// A dashboard's live tile over dibx's `changes` subscription, with the unmodified graphql-ws
// client (docs/dashboard-example.md). It prints one JSON line per change it may see and keeps
// the cursor of the last one: when the socket closes (a restart, an expired token: 4403, a
// slow tile dropped: 1013), it subscribes again after that cursor, so it misses nothing and
// sees nothing twice.
//
//   DIBX_WS_URL  ws://127.0.0.1:8000/graphql      DIBX_TOKEN   a bearer token (supplier:read)
//   DIBX_TYPES   e.g. SUPPLIER,PROVIDES (all)      DIBX_AFTER   a cursor to start after
//   DIBX_EVENTS  stop after this many changes (0: run until interrupted)
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.env.DIBX_WS_URL ?? 'ws://127.0.0.1:8000/graphql';
const types = process.env.DIBX_TYPES ? process.env.DIBX_TYPES.split(',') : null;
const stopAfter = Number(process.env.DIBX_EVENTS ?? '0');
let cursor = process.env.DIBX_AFTER || null;
let seen = 0;

// A real dashboard fetches a fresh token here (its OAuth client credentials grant): the
// client asks again on every connection, so an expired token closes one socket, not the tile.
const token = async () => process.env.DIBX_TOKEN;

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: async () => ({ Authorization: `Bearer ${await token()}` }),
  // The tile resubscribes itself after the last cursor; the client's own retry would replay
  // the first subscribe message (and its first cursor).
  retryAttempts: 0,
  on: { connected: () => console.error(JSON.stringify({ connected: url })) },
});

const query = `subscription Dashboard($after: String, $types: [ChangeType!]) {
  changes(after: $after, types: $types) {
    cursor type kind id start end marking committedAt
    fields { field value released marking }
  }
}`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function follow() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const results = client.iterate({ query, variables: { after: cursor, types } });
      for await (const result of results) {
        if (result.errors) throw new Error(JSON.stringify(result.errors));
        const change = result.data.changes;
        cursor = change.cursor;
        seen += 1;
        console.log(JSON.stringify(change));
        if (stopAfter && seen >= stopAfter) return;
      }
    } catch (error) {
      const code = error?.code; // a CloseEvent when the socket closed
      console.error(JSON.stringify({ closed: code ?? String(error), reason: error?.reason }));
      if (code === 4403 && attempt > 3) throw error; // the token itself is refused
      await sleep(Math.min(1000 * 2 ** attempt, 10000));
    }
  }
}

follow()
  .then(() => client.dispose())
  .then(() => process.exit(0))
  .catch((error) => {
    console.error(String(error));
    process.exit(1);
  });
