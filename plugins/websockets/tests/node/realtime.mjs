// The official @directus/sdk realtime() client against a live Transom (argv: url, token,
// collection). Prints one JSON line of what it saw; the pytest side checks it.
import { createDirectus, realtime, staticToken } from '@directus/sdk';

const [url, token, collection] = process.argv.slice(2);
const seen = { auth: null, init: null, create: null, items: null, pong: false };
const client = createDirectus(url).with(staticToken(token))
  .with(realtime({ authMode: 'handshake', heartbeat: false }));

const done = (code) => { console.log(JSON.stringify(seen)); client.disconnect(); process.exit(code); };
setTimeout(() => done(2), 15000);

client.onWebSocket('message', (message) => {
  if (message.type === 'auth') seen.auth = message.status;
  if (message.type === 'pong') seen.pong = true;
  if (message.type === 'items' && message.uid === 'sdk-items') seen.items = message.data;
});

await client.connect();
const { subscription } = await client.subscribe(collection, { query: { fields: ['id', 'title'] } });
for await (const message of subscription) {
  if (message.event === 'init') {
    seen.init = message.data;
    client.sendMessage({ type: 'ping' });
    client.sendMessage({ type: 'items', collection, action: 'create', uid: 'sdk-items',
                         data: { title: 'from the sdk' } });
  } else if (message.event === 'create') {
    seen.create = message.data;
    await new Promise((r) => setTimeout(r, 300));
    done(0);
  }
}
