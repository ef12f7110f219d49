/**
 * Resolves on the next turn of the event loop, so progress displays and interrupts get through.
 * Node has setImmediate; a browser (the playground) falls back to a zero timeout.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );
}
