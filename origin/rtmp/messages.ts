// Typed RTMP messages: decode raw message bodies (control, media, AMF0 data and commands) and encode
// them back; plus the typed reading of the commands an ingest server has to answer.
import { amf0Properties, decodeAmf0, encodeAmf0 } from './amf0.ts';
import type { Amf0Object, Amf0Value } from './amf0.ts';
import { RtmpProtocolError } from './chunk-reader.ts';
import { MessageType } from './message-assembler.ts';
import type { RawMessage } from './message-assembler.ts';

export const UserControlEventType = {
  StreamBegin: 0,
  StreamEof: 1,
  StreamDry: 2,
  SetBufferLength: 3,
  StreamIsRecorded: 4,
  PingRequest: 6,
  PingResponse: 7,
} as const;

export type UserControlEvent =
  | { kind: 'stream-begin' | 'stream-eof' | 'stream-dry' | 'stream-is-recorded'; streamId: number }
  | { kind: 'set-buffer-length'; streamId: number; bufferMs: number }
  | { kind: 'ping-request' | 'ping-response'; timestamp: number }
  | { kind: 'unknown'; eventType: number; data: Buffer };

export const PeerBandwidthLimit = { Hard: 0, Soft: 1, Dynamic: 2 } as const;

interface Stamped {
  timestamp: number;
  messageStreamId: number;
}

export type MediaMessage = Stamped & { type: 'audio' | 'video'; payload: Buffer };
export type DataMessage = Stamped & { type: 'data'; values: Amf0Value[] };
export type CommandMessage = Stamped & {
  type: 'command';
  name: string;
  transactionId: number;
  commandObject: Amf0Value;
  args: Amf0Value[];
};

export type RtmpMessage =
  | { type: 'set-chunk-size'; chunkSize: number }
  | { type: 'abort'; chunkStreamId: number }
  | { type: 'acknowledgement'; sequenceNumber: number }
  | { type: 'user-control'; event: UserControlEvent }
  | { type: 'window-ack-size'; windowSize: number }
  | { type: 'set-peer-bandwidth'; windowSize: number; limitType: number }
  | MediaMessage
  | DataMessage
  | CommandMessage
  | (Stamped & { type: 'unknown'; typeId: number; payload: Buffer });

function need(raw: RawMessage, bytes: number): void {
  if (raw.payload.length < bytes) {
    throw new RtmpProtocolError('message-malformed', `message of type ${raw.typeId} has ${raw.payload.length} bytes, needs ${bytes}`);
  }
}

function decodeUserControl(raw: RawMessage): UserControlEvent {
  need(raw, 2);
  const p = raw.payload;
  const eventType = p.readUInt16BE(0);
  switch (eventType) {
    case UserControlEventType.StreamBegin:
    case UserControlEventType.StreamEof:
    case UserControlEventType.StreamDry:
    case UserControlEventType.StreamIsRecorded: {
      need(raw, 6);
      const kinds = { 0: 'stream-begin', 1: 'stream-eof', 2: 'stream-dry', 4: 'stream-is-recorded' } as const;
      return { kind: kinds[eventType], streamId: p.readUInt32BE(2) };
    }
    case UserControlEventType.SetBufferLength:
      need(raw, 10);
      return { kind: 'set-buffer-length', streamId: p.readUInt32BE(2), bufferMs: p.readUInt32BE(6) };
    case UserControlEventType.PingRequest:
    case UserControlEventType.PingResponse:
      need(raw, 6);
      return { kind: eventType === UserControlEventType.PingRequest ? 'ping-request' : 'ping-response', timestamp: p.readUInt32BE(2) };
    default:
      return { kind: 'unknown', eventType, data: Buffer.from(p.subarray(2)) };
  }
}

/** AMF3 variants (types 15, 17) start with one format byte and then carry AMF0 values in practice. */
function amfValues(raw: RawMessage, amf3: boolean): Amf0Value[] {
  if (amf3) need(raw, 1);
  return decodeAmf0(amf3 ? raw.payload.subarray(1) : raw.payload);
}

/** Throws RtmpProtocolError for bodies that do not fit their type. */
export function decodeMessage(raw: RawMessage): RtmpMessage {
  const stamped: Stamped = { timestamp: raw.timestamp, messageStreamId: raw.messageStreamId };
  const p = raw.payload;
  switch (raw.typeId) {
    case MessageType.SetChunkSize:
      need(raw, 4);
      return { type: 'set-chunk-size', chunkSize: p.readUInt32BE(0) };
    case MessageType.Abort:
      need(raw, 4);
      return { type: 'abort', chunkStreamId: p.readUInt32BE(0) };
    case MessageType.Acknowledgement:
      need(raw, 4);
      return { type: 'acknowledgement', sequenceNumber: p.readUInt32BE(0) };
    case MessageType.UserControl:
      return { type: 'user-control', event: decodeUserControl(raw) };
    case MessageType.WindowAckSize:
      need(raw, 4);
      return { type: 'window-ack-size', windowSize: p.readUInt32BE(0) };
    case MessageType.SetPeerBandwidth:
      need(raw, 5);
      return { type: 'set-peer-bandwidth', windowSize: p.readUInt32BE(0), limitType: p[4]! };
    case MessageType.Audio:
      return { ...stamped, type: 'audio', payload: p };
    case MessageType.Video:
      return { ...stamped, type: 'video', payload: p };
    case MessageType.DataAmf0:
    case MessageType.DataAmf3:
      return { ...stamped, type: 'data', values: amfValues(raw, raw.typeId === MessageType.DataAmf3) };
    case MessageType.CommandAmf0:
    case MessageType.CommandAmf3: {
      const [name, transactionId, commandObject, ...args] = amfValues(raw, raw.typeId === MessageType.CommandAmf3);
      if (typeof name !== 'string') throw new RtmpProtocolError('command-malformed', 'command without a name');
      // Some clients send notifications without a transaction id; 0 is what the spec gives them.
      const tid = typeof transactionId === 'number' && Number.isFinite(transactionId) ? transactionId : 0;
      return { ...stamped, type: 'command', name, transactionId: tid, commandObject: commandObject ?? null, args };
    }
    default:
      return { ...stamped, type: 'unknown', typeId: raw.typeId, payload: p };
  }
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function encodeUserControl(event: UserControlEvent): Buffer {
  const head = Buffer.alloc(2);
  switch (event.kind) {
    case 'stream-begin':
    case 'stream-eof':
    case 'stream-dry':
    case 'stream-is-recorded': {
      const types = { 'stream-begin': 0, 'stream-eof': 1, 'stream-dry': 2, 'stream-is-recorded': 4 } as const;
      head.writeUInt16BE(types[event.kind]);
      return Buffer.concat([head, u32(event.streamId)]);
    }
    case 'set-buffer-length':
      head.writeUInt16BE(UserControlEventType.SetBufferLength);
      return Buffer.concat([head, u32(event.streamId), u32(event.bufferMs)]);
    case 'ping-request':
    case 'ping-response':
      head.writeUInt16BE(event.kind === 'ping-request' ? UserControlEventType.PingRequest : UserControlEventType.PingResponse);
      return Buffer.concat([head, u32(event.timestamp)]);
    case 'unknown':
      head.writeUInt16BE(event.eventType);
      return Buffer.concat([head, event.data]);
  }
}

/** Conventional chunk streams: 2 is reserved for protocol control, the rest follow what FFmpeg and OBS use. */
export const ChunkStream = { Control: 2, Command: 3, Audio: 4, Data: 5, Video: 6 } as const;

export function encodeMessage(message: RtmpMessage): RawMessage {
  const control = (typeId: number, payload: Buffer): RawMessage => ({
    chunkStreamId: ChunkStream.Control,
    typeId,
    timestamp: 0,
    messageStreamId: 0,
    payload,
  });
  switch (message.type) {
    case 'set-chunk-size':
      return control(MessageType.SetChunkSize, u32(message.chunkSize));
    case 'abort':
      return control(MessageType.Abort, u32(message.chunkStreamId));
    case 'acknowledgement':
      return control(MessageType.Acknowledgement, u32(message.sequenceNumber));
    case 'user-control':
      return control(MessageType.UserControl, encodeUserControl(message.event));
    case 'window-ack-size':
      return control(MessageType.WindowAckSize, u32(message.windowSize));
    case 'set-peer-bandwidth':
      return control(MessageType.SetPeerBandwidth, Buffer.concat([u32(message.windowSize), Buffer.of(message.limitType)]));
    case 'audio':
    case 'video':
      return {
        chunkStreamId: message.type === 'audio' ? ChunkStream.Audio : ChunkStream.Video,
        typeId: message.type === 'audio' ? MessageType.Audio : MessageType.Video,
        timestamp: message.timestamp,
        messageStreamId: message.messageStreamId,
        payload: message.payload,
      };
    case 'data':
      return {
        chunkStreamId: ChunkStream.Data,
        typeId: MessageType.DataAmf0,
        timestamp: message.timestamp,
        messageStreamId: message.messageStreamId,
        payload: encodeAmf0(...message.values),
      };
    case 'command':
      return {
        chunkStreamId: ChunkStream.Command,
        typeId: MessageType.CommandAmf0,
        timestamp: message.timestamp,
        messageStreamId: message.messageStreamId,
        payload: encodeAmf0(message.name, message.transactionId, message.commandObject, ...message.args),
      };
    case 'unknown':
      return {
        chunkStreamId: ChunkStream.Command,
        typeId: message.typeId,
        timestamp: message.timestamp,
        messageStreamId: message.messageStreamId,
        payload: message.payload,
      };
  }
}

export function command(
  name: string,
  transactionId: number,
  commandObject: Amf0Value,
  args: Amf0Value[] = [],
  messageStreamId = 0,
): CommandMessage {
  return { type: 'command', timestamp: 0, messageStreamId, name, transactionId, commandObject, args };
}

/** The commands a publishing client sends, read into the fields a server acts on. */
export type IngestCommand =
  | {
      name: 'connect';
      transactionId: number;
      app: string;
      tcUrl: string | undefined;
      objectEncoding: number;
      properties: Amf0Object;
    }
  | { name: 'releaseStream' | 'FCPublish' | 'FCUnpublish' | 'getStreamLength'; transactionId: number; streamName: string }
  | { name: 'createStream' | 'closeStream'; transactionId: number }
  | { name: 'publish'; transactionId: number; messageStreamId: number; streamName: string; publishType: string }
  | { name: 'deleteStream'; transactionId: number; streamId: number }
  | { name: 'other'; transactionId: number; commandName: string };

function optionalString(value: Amf0Value, what: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new RtmpProtocolError('command-malformed', `${what} is not a string`);
  return value;
}

export function interpretCommand(message: CommandMessage): IngestCommand {
  const transactionId = message.transactionId;
  const [first, second] = message.args;
  switch (message.name) {
    case 'connect': {
      const properties = amf0Properties(message.commandObject);
      if (!properties) throw new RtmpProtocolError('command-malformed', 'connect without a command object');
      const tcUrl = properties.tcUrl;
      const objectEncoding = properties.objectEncoding;
      return {
        name: 'connect',
        transactionId,
        app: optionalString(properties.app, 'connect app'),
        tcUrl: typeof tcUrl === 'string' ? tcUrl : undefined,
        objectEncoding: typeof objectEncoding === 'number' ? objectEncoding : 0,
        properties,
      };
    }
    case 'releaseStream':
    case 'FCPublish':
    case 'FCUnpublish':
    case 'getStreamLength':
      return { name: message.name, transactionId, streamName: optionalString(first, `${message.name} stream name`) };
    case 'createStream':
    case 'closeStream':
      return { name: message.name, transactionId };
    case 'publish':
      return {
        name: 'publish',
        transactionId,
        messageStreamId: message.messageStreamId,
        streamName: optionalString(first, 'publish stream name'),
        publishType: typeof second === 'string' ? second : 'live',
      };
    case 'deleteStream':
      return { name: 'deleteStream', transactionId, streamId: typeof first === 'number' ? first : message.messageStreamId };
    default:
      return { name: 'other', transactionId, commandName: message.name };
  }
}

/** onMetaData properties from a data message, with or without the @setDataFrame wrapper; otherwise undefined. */
export function metadataOf(message: DataMessage): Amf0Object | undefined {
  let values = message.values;
  if (values[0] === '@setDataFrame') values = values.slice(1);
  if (values[0] !== 'onMetaData') return undefined;
  const properties = amf0Properties(values[1]);
  return properties ?? {};
}

