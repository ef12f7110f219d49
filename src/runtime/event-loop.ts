/** Resolves on the next turn of the event loop, so progress displays and interrupts get through. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
