/**
 * The part of dcmjs 0.51.1 this project uses (the package ships no type declarations).
 * Only the data layer is declared: naturalized keyword datasets, denaturalize/naturalize, Part 10 read/write.
 */
declare module 'dcmjs' {
  /** A dataset in dcmjs's "naturalized" form: DICOM keywords as property names, sequences as arrays of datasets. */
  export type NaturalizedDataset = Record<string, unknown>;

  /** A dataset in dcmjs's "denaturalized" form: 8-hex-digit tags mapping to { vr, Value }. */
  export interface DenaturalizedElement { vr: string; Value: unknown[]; }
  export type DenaturalizedDataset = Record<string, DenaturalizedElement>;

  export interface DictionaryEntry { tag: string; vr: string; vm: string; name: string; version: string; }

  export interface ReadFileOptions {
    ignoreErrors?: boolean;
    /** Stop reading at this tag, e.g. "7FE00010" to read headers only. */
    untilTag?: string | null;
    includeUntilTagValue?: boolean;
    noCopy?: boolean;
    forceStoreRaw?: boolean;
  }

  export interface WriteOptions { allowInvalidVRLength?: boolean; fragmentMultiframe?: boolean; }

  export namespace data {
    class DicomDict {
      constructor(meta: DenaturalizedDataset);
      meta: DenaturalizedDataset;
      dict: DenaturalizedDataset;
      upsertTag(tag: string, vr: string, values: unknown[]): void;
      /** Part 10 bytes: preamble, DICM, file meta group, then the dataset. */
      write(options?: WriteOptions): ArrayBuffer;
    }
    class DicomMessage {
      static readFile(buffer: ArrayBuffer, options?: ReadFileOptions): DicomDict;
      /** Encodes a dataset (no preamble, no meta group) into `stream` in the given transfer syntax; returns bytes written. */
      static write(dataset: DenaturalizedDataset, stream: WriteBufferStream, transferSyntaxUid: string, options: WriteOptions): number;
    }
    class WriteBufferStream {
      constructor(initialSize: number, littleEndian: boolean);
      /** A copy of the bytes written so far. */
      getBuffer(): ArrayBuffer;
    }
    class DicomMetaDictionary {
      static naturalizeDataset(dataset: DenaturalizedDataset): NaturalizedDataset;
      static denaturalizeDataset(dataset: NaturalizedDataset): DenaturalizedDataset;
      static nameMap: Record<string, DictionaryEntry>;
      static dictionary: Record<string, DictionaryEntry>;
      static uid(): string;
      static punctuateTag(rawTag: string): string;
      static unpunctuateTag(tag: string): string;
    }
  }

  const dcmjs: { data: typeof data };
  export default dcmjs;
}
