// @directus/sdk's file functions against a server: BASE_URL, TOKEN, IMPORT_URL from the
// environment; prints one JSON object of what each call gave, for test_sdk.py to check.
import { createDirectus, rest, staticToken, uploadFiles, readFiles, readFile,
  readAssetRaw, importFile, updateFile, deleteFile } from '@directus/sdk';

const client = createDirectus(process.env.BASE_URL).with(staticToken(process.env.TOKEN)).with(rest());

async function bytesOf(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

// an image: the SDK hands text/* answers back as strings, not streams (as with Directus)
const content = Buffer.from(process.env.PNG_B64, 'base64');
const form = new FormData();
form.append('title', 'From the SDK');
form.append('file', new Blob([content], { type: 'image/png' }), 'sdk-picture.png');
const uploaded = await client.request(uploadFiles(form));

const listed = await client.request(readFiles({
  filter: { title: { _eq: 'From the SDK' } }, fields: ['id', 'title', 'filesize', 'type'] }));
const raw = await bytesOf(await client.request(readAssetRaw(uploaded.id)));
const imported = await client.request(importFile(process.env.IMPORT_URL, { title: 'Imported by SDK' }));
const one = await client.request(readFile(imported.id, { fields: ['id', 'title', 'type', 'width'] }));
const thumb = await bytesOf(await client.request(readAssetRaw(imported.id, { width: 5, format: 'png' })));
const renamed = await client.request(updateFile(uploaded.id, { title: 'Renamed by SDK' }));
await client.request(deleteFile(imported.id));
const after = await client.request(readFiles({ fields: ['id'] }));

console.log(JSON.stringify({
  uploaded, listed, rawMatches: raw.equals(content), imported, one,
  thumbIsPng: thumb.subarray(1, 4).toString() === 'PNG', renamed: renamed.title,
  remaining: after.map((f) => f.id),
}));
