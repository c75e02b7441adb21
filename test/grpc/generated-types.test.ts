/**
 * The committed gRPC types (src/grpc/generated/) are what `npm run generate:grpc` makes from proto/ today, with the
 * loader options the server and the clients use; a proto edited without regenerating fails here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { GENERATED_DIR, GENERATED_HEADER, generateGrpcTypes, generatorFlags } from '../../scripts/generate-grpc-types';
import { POLICY_ENUM, PROTO_LOADER_OPTIONS } from '../../src/grpc';
import { Policy } from '../../src/grpc/generated/t3/v1/Policy';
import type { ClassifyResponse } from '../../src/grpc/generated/t3/v1/ClassifyResponse';
import type { StudyRef__Output } from '../../src/grpc/generated/t3/v1/StudyRef';

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

let tempDir: string;
beforeAll(() => {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 't3-grpc-types-'));
});
afterAll(() => fs.rmSync(tempDir, { recursive: true, force: true }));

test('regenerating from proto/ gives exactly the committed files', () => {
  const fresh = path.join(tempDir, 'generated');
  const written = generateGrpcTypes(fresh);
  expect(written.length).toBeGreaterThan(50);
  // Same set of files (a message added or removed in a .proto adds or removes one)...
  expect(filesUnder(GENERATED_DIR)).toEqual(written);
  // ...with the same text; the first differing file is named, with a hint.
  const stale = written.filter((file) => fs.readFileSync(path.join(fresh, file), 'utf8') !== fs.readFileSync(path.join(GENERATED_DIR, file), 'utf8'));
  expect({ stale, fix: 'npm run generate:grpc' }).toEqual({ stale: [], fix: 'npm run generate:grpc' });
  for (const file of written) expect(fs.readFileSync(path.join(fresh, file), 'utf8').startsWith(GENERATED_HEADER)).toBe(true);
});

test('the generator is run with the loader options of the server and the clients', () => {
  expect(generatorFlags(PROTO_LOADER_OPTIONS)).toEqual(['--longs=Number', '--enums=String', '--defaults', '--oneofs']);
  // Each option the runtime might change moves the flags with it (so the types cannot silently drift from the objects).
  expect(generatorFlags({ ...PROTO_LOADER_OPTIONS, keepCase: true })).toContain('--keepCase');
  expect(generatorFlags({ ...PROTO_LOADER_OPTIONS, longs: String })).toContain('--longs=String');
  expect(generatorFlags({ ...PROTO_LOADER_OPTIONS, defaults: false })).not.toContain('--defaults');
  expect(generatorFlags({ ...PROTO_LOADER_OPTIONS, oneofs: false })).not.toContain('--oneofs');
});

test('the generated enum values are the ones the loader decodes, and every policy name maps onto one', () => {
  const definition = protoLoader.loadSync(['t3/v1/common.proto'], PROTO_LOADER_OPTIONS);
  const loaded = definition['t3.v1.Policy'] as protoLoader.EnumTypeDefinition;
  // The enum's descriptor (google.protobuf.EnumDescriptorProto as an object): its values in declaration order.
  const names = (loaded.type as { value: { name: string }[] }).value.map((v) => v.name);
  expect(Object.values(Policy)).toEqual(names);
  for (const value of Object.values(POLICY_ENUM)) expect(names).toContain(value);
});

test('a field the proto does not have is a compile error, and oneofs name their set member', () => {
  const response: ClassifyResponse = {
    executionProvider: 'cpu',
    // @ts-expect-error misspelt: the proto field is duration_ms (durationMs); `npm run typecheck` fails if this compiles
    durationMS: 3,
  };
  const ref: StudyRef__Output = { ref: 'orthancStudyId', orthancStudyId: 'x' };
  // @ts-expect-error the oneof's member names are a closed set
  const wrong: StudyRef__Output['ref'] = 'orthancId';
  expect(response.executionProvider).toBe('cpu');
  expect(ref.ref).toBe('orthancStudyId');
  expect(wrong).toBe('orthancId');
});
