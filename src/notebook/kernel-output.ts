import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Tslab from 'tslab';
import { tslabDisplayWriter } from '../runtime/internals.js';

const require = createRequire(import.meta.url);

/** tslab's display API; loaded lazily so the rest of src/ works outside a kernel. */
export function tslab(): typeof Tslab {
  return require('tslab') as typeof Tslab;
}

type WriteDisplayData = (
  message: { data: Record<string, string>; metadata: object; transient: { display_id?: string } },
  update: boolean,
) => void;

/** The function tslab sends display_data with, while a cell runs in a kernel; else undefined. */
function kernelWriter(): WriteDisplayData | undefined {
  return tslabDisplayWriter<WriteDisplayData>();
}

/**
 * One output with several representations (tslab's public `display` sends one MIME type per
 * output). The front end shows the richest it can render, and a test or a script can read a
 * data-only type beside it. Outside a kernel, prints the text/plain part.
 */
export function displayBundle(data: Record<string, string>): void {
  const write = kernelWriter();
  if (!write) {
    if (data['text/plain'] !== undefined) console.log(data['text/plain']);
    return;
  }
  write({ data, metadata: {}, transient: {} }, false);
}

/** One output that can be replaced in place, each time with several representations. */
export interface LiveDisplay {
  update(data: Record<string, string>): void;
}

/** A display that updates itself (update_display_data); outside a kernel, prints text/plain. */
export function createDisplay(): LiveDisplay {
  const id = randomBytes(8).toString('hex');
  let shown = false;
  let lastText = '';
  return {
    update(data) {
      const write = kernelWriter();
      if (!write) {
        // Outside a kernel: print only what changed in the plain text, not every redraw.
        const text = data['text/plain'];
        if (text !== undefined && text !== lastText) console.log(text);
        lastText = text ?? lastText;
        return;
      }
      write({ data, metadata: {}, transient: { display_id: id } }, shown);
      shown = true;
    },
  };
}
