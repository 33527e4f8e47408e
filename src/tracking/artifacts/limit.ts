import { Transform, type TransformCallback } from 'node:stream';
import { TasselError } from '../../errors.js';

/** A pass-through that counts bytes and fails with REQUEST_TOO_LARGE once more than `max` went by. */
export class ByteLimit extends Transform {
  bytes = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) {
      cb(new TasselError('REQUEST_TOO_LARGE', `Artifact is larger than the limit of ${this.max} bytes.`));
      return;
    }
    cb(null, chunk);
  }
}
