/**
 * Closing a peer connection from inside one of its own callbacks (a data channel's message or close, an ICE state
 * change) is where native WebRTC bindings have crashed with a use after free (node-webrtc #360, #391; @roamhq/wrtc's
 * WonderInventions/node-webrtc #35). The links decide to close in such callbacks, so the close itself waits for a
 * task of its own: by then the callback has returned to the native side. Links are marked finished at once, so
 * nothing more is reported from a peer whose close is pending. The hub's `close()` waits for these too.
 */
const pending = new Set<Promise<void>>();

const nextTask: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

/** Runs `close` in a task of its own, outside whatever callback the caller is in. */
export function closeOutsideCallbacks(close: () => void): void {
  const done = new Promise<void>((resolve) =>
    nextTask(() => {
      try {
        close();
      } finally {
        resolve();
      }
    }),
  );
  pending.add(done);
  void done.then(() => pending.delete(done));
}

/** Resolves once every close asked for so far has run. */
export async function pendingClosesDone(): Promise<void> {
  while (pending.size > 0) await Promise.all([...pending]);
}
