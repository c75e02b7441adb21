import type { DenaturalizedDataset, WriteOptions } from 'dcmjs';
import { dcmjs } from './dcmjs-library';
import { wrapEncodedDataset, type FileMetaIdentity } from './part10-header';

/** Room for a typical header; dcmjs's stream grows as needed. */
const INITIAL_STREAM_BYTES = 4096;

/**
 * The one Part 10 writer for datasets built as dcmjs elements: the header from part10-header.ts, then the dataset
 * encoded by dcmjs in `identity.transferSyntaxUid`.
 */
export function writePart10(identity: FileMetaIdentity, dataset: DenaturalizedDataset, options?: WriteOptions): Uint8Array {
  const stream = new dcmjs.data.WriteBufferStream(INITIAL_STREAM_BYTES, true);
  dcmjs.data.DicomMessage.write(dataset, stream, identity.transferSyntaxUid, options ?? { allowInvalidVRLength: false });
  return wrapEncodedDataset(identity, new Uint8Array(stream.getBuffer()));
}
