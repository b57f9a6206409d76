// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Event ids are chosen by producers and unique across the mesh: 1–200 characters, no control
 * characters, well-formed Unicode (no lone surrogates). Returns the reason it is refused, or null.
 */
export function checkEventId(id: unknown): string | null {
  if (typeof id !== 'string') return 'must be a string';
  if (id.length < 1 || id.length > 200) return 'must be 1 to 200 characters';
  if (CONTROL.test(id)) return 'must not contain control characters';
  if (!id.isWellFormed()) return 'must be well-formed Unicode';
  return null;
}
