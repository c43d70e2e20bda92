// The errors the upstream body readers share (read_bounded.ts, chunk_iterator.ts, upstream_body.ts).

/** For an 'error' a body emits after its reader stopped listening (e.g. undici's AbortError on destroy). */
export function ignoreError(): void {}

/** The error Node's own stream readers give for a stream that closed without ending. */
export function prematureClose(): Error {
  const err = new Error('Premature close') as NodeJS.ErrnoException;
  err.code = 'ERR_STREAM_PREMATURE_CLOSE';
  return err;
}
