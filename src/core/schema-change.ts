/**
 * What changed at one place of a payload schema. Breaking kinds are those a consumer of the
 * baseline would trip over (see `diffSchemas`); the others are reported so a reviewer sees them.
 */
export type SchemaChangeKind =
  | 'field-removed'
  | 'field-made-optional'
  | 'field-made-required'
  | 'required-field-added'
  | 'retyped'
  | 'enum-narrowed'
  | 'constraint-tightened'
  | 'additional-properties-tightened'
  | 'variant-removed'
  | 'field-added'
  | 'enum-widened'
  | 'constraint-loosened'
  | 'additional-properties-loosened'
  | 'variant-added';

export const BREAKING_KINDS: ReadonlySet<SchemaChangeKind> = new Set<SchemaChangeKind>([
  'field-removed',
  'field-made-optional',
  'field-made-required',
  'required-field-added',
  'retyped',
  'enum-narrowed',
  'constraint-tightened',
  'additional-properties-tightened',
  'variant-removed',
]);

export interface SchemaChange {
  /** A JSON pointer into the payload (`/customer/id`); `*` stands for any array item or map value. */
  readonly path: string;
  readonly kind: SchemaChangeKind;
  readonly breaking: boolean;
  /** What happened there, e.g. `removed`, `retyped from number to string`. */
  readonly detail: string;
}
