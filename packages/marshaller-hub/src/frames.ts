import { VnfError } from '@vnf/core';

/*
 * Frames handed to the inner endpoint (always binary; integers are unsigned 32-bit big-endian):
 *   SINGLE  [0x01][body]                      a whole message in one frame
 *   START   [0x02][id][total][first bytes]    first frame of a message of `total` body bytes
 *   CHUNK   [0x03][id][next bytes]            following frames, in order, until `total` bytes arrived
 * `id` numbers the multi-frame messages of one connection; the type byte doubles as the protocol version.
 */
export const FrameType = { SINGLE: 0x01, START: 0x02, CHUNK: 0x03 } as const;

export const SINGLE_HEADER = 1;
export const START_HEADER = 9;
export const CHUNK_HEADER = 5;
export const MAX_FRAME_HEADER = START_HEADER;
/** Body sizes travel as 32-bit integers. */
export const MAX_TOTAL_SIZE = 0xffff_ffff;

export type Frame =
  | { type: typeof FrameType.SINGLE; data: Uint8Array }
  | { type: typeof FrameType.START; id: number; total: number; data: Uint8Array }
  | { type: typeof FrameType.CHUNK; id: number; data: Uint8Array };

/** Allocates a frame with its header written; the caller copies `dataLength` bytes in at `offset`. */
export function allocateFrame(
  type: (typeof FrameType)[keyof typeof FrameType],
  dataLength: number,
  id = 0,
  total = 0,
): { frame: Uint8Array; offset: number } {
  const header = type === FrameType.SINGLE ? SINGLE_HEADER : type === FrameType.START ? START_HEADER : CHUNK_HEADER;
  const frame = new Uint8Array(header + dataLength);
  frame[0] = type;
  if (type !== FrameType.SINGLE) {
    const view = new DataView(frame.buffer);
    view.setUint32(1, id);
    if (type === FrameType.START) view.setUint32(5, total);
  }
  return { frame, offset: header };
}

/** Reads a frame from a peer. Throws PROTOCOL when it is not one (the data is a view, not a copy). */
export function parseFrame(payload: unknown): Frame {
  if (!(payload instanceof Uint8Array) && !(payload instanceof ArrayBuffer)) {
    throw protocolError(`a ${typeof payload} payload instead of a binary frame`);
  }
  const bytes = payload instanceof ArrayBuffer ? new Uint8Array(payload) : payload;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = bytes.byteLength > 0 ? bytes[0] : -1;
  switch (type) {
    case FrameType.SINGLE:
      return { type, data: bytes.subarray(SINGLE_HEADER) };
    case FrameType.START:
      if (bytes.byteLength < START_HEADER) throw protocolError('a truncated START frame');
      return { type, id: view.getUint32(1), total: view.getUint32(5), data: bytes.subarray(START_HEADER) };
    case FrameType.CHUNK:
      if (bytes.byteLength < CHUNK_HEADER) throw protocolError('a truncated CHUNK frame');
      return { type, id: view.getUint32(1), data: bytes.subarray(CHUNK_HEADER) };
    default:
      throw protocolError(bytes.byteLength === 0 ? 'an empty frame' : `a frame of unknown type ${type}`);
  }
}

export function protocolError(what: string): VnfError {
  return new VnfError(
    'PROTOCOL',
    `MarshallerHub received ${what} from its peer. Both sides must wrap their hub in a MarshallerHub of the same version; ` +
      'the frame was dropped.',
  );
}
