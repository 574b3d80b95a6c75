/**
 * Build step (`npm run build:ts`): writes `dist/proto/descriptor.json`, the precompiled protobufjs
 * descriptor of our `.proto` files that proto/loader.ts takes instead of parsing the text at start-up.
 *
 *   node dist/proto/write-descriptor.js
 */
import * as fs from 'node:fs';
import { DESCRIPTOR_PATH, buildDescriptor } from './loader';

const tmp = `${DESCRIPTOR_PATH}.${process.pid}.tmp`;
fs.writeFileSync(tmp, JSON.stringify(buildDescriptor()));
fs.renameSync(tmp, DESCRIPTOR_PATH);
