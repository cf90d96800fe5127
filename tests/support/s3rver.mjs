#!/usr/bin/env node
// s3rver.mjs DIR [PORT]: runs @20minutes/s3rver 4.0.4 (tests/package.json; install with
// `npm ci --prefix tests`) on 127.0.0.1, storing objects under DIR, with the bucket
// `cairn-test`. Prints the port on one line once it accepts requests; exits 0 on SIGTERM or
// SIGINT. Credentials are s3rver's defaults: S3RVER / S3RVER. See DEPS.md.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package.json'));
const S3rver = require('@20minutes/s3rver');

const [dir, portArg] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: s3rver.mjs DIR [PORT]\n');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });

const server = new S3rver({
  address: '127.0.0.1',
  port: portArg ? Number(portArg) : 0,
  directory: path.resolve(dir),
  silent: true,
  vhostBuckets: false,
  configureBuckets: [{ name: 'cairn-test', configs: [] }],
});
const { port } = await server.run();
// Large parts and server-side copies of multi-GB objects must not hit node's request timeout.
server.httpServer.requestTimeout = 0;
server.httpServer.headersTimeout = 60_000;
process.stdout.write(`${port}\n`);

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  server.close().then(() => process.exit(0), () => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
