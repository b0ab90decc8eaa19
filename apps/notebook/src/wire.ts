import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { KernelError } from './errors'

/** The connection file Jupyter writes for a kernel (`{connection_file}` in kernel.json). */
export interface ConnectionInfo {
  ip: string
  transport: 'tcp' | 'ipc'
  shell_port: number
  iopub_port: number
  stdin_port: number
  control_port: number
  hb_port: number
  key: string
  signature_scheme: string
  kernel_name?: string
}

/** A Jupyter message header (messaging protocol 5.3). */
export interface MessageHeader {
  msg_id: string
  session: string
  username: string
  date: string
  msg_type: string
  version: string
}

/** A decoded Jupyter message as it travels between kernel and client. */
export interface JupyterMessage<C = Record<string, unknown>> {
  /** ZeroMQ routing identities that preceded the `<IDS|MSG>` delimiter. */
  identities: Buffer[]
  header: MessageHeader
  parent_header: Partial<MessageHeader>
  metadata: Record<string, unknown>
  content: C
  buffers: Buffer[]
}

/** The protocol version this kernel speaks. */
export const PROTOCOL_VERSION = '5.3'
const DELIMITER = '<IDS|MSG>'

/**
 * Reads and validates a Jupyter connection file.
 *
 * @param path - the file Jupyter passed as `{connection_file}`
 * @returns the parsed connection information
 * @example
 * ```ts
 * const info = await readConnectionFile('/run/user/1000/jupyter/kernel-1.json')
 * ```
 */
export async function readConnectionFile(path: string): Promise<ConnectionInfo> {
  let raw: string
  try {
    raw = await readFile(path, 'utf8')
  } catch (cause) {
    throw new KernelError('BAD_CONNECTION_FILE', `cannot read connection file ${path}; start the kernel through Jupyter, which writes it`, { cause })
  }
  let info: Partial<ConnectionInfo>
  try {
    info = JSON.parse(raw) as Partial<ConnectionInfo>
  } catch (cause) {
    throw new KernelError('BAD_CONNECTION_FILE', `connection file ${path} is not valid JSON`, { cause })
  }
  for (const field of ['shell_port', 'iopub_port', 'stdin_port', 'control_port', 'hb_port'] as const) {
    if (!Number.isInteger(info[field])) {
      throw new KernelError('BAD_CONNECTION_FILE', `connection file ${path} has no integer "${field}"; it must hold all five ports`)
    }
  }
  return {
    ...(info as ConnectionInfo),
    ip: info.ip ?? '127.0.0.1',
    transport: info.transport ?? 'tcp',
    key: info.key ?? '',
    signature_scheme: info.signature_scheme ?? 'hmac-sha256',
  }
}

/**
 * Signs and checks message frames with the connection file's key and scheme.
 * An empty key turns signing off, as the protocol specifies.
 *
 * @example
 * ```ts
 * const signer = new Signer('secret', 'hmac-sha256')
 * signer.verify(signer.sign(frames), frames) // true
 * ```
 */
export class Signer {
  readonly #key: Buffer
  readonly #algorithm: string

  /**
   * @param key - the shared secret from the connection file
   * @param scheme - the signature scheme, `hmac-<digest>` (e.g. `hmac-sha256`)
   */
  constructor(key: string, scheme = 'hmac-sha256') {
    const match = /^hmac-([a-z0-9-]+)$/i.exec(scheme)
    if (!match?.[1]) {
      throw new KernelError('UNSUPPORTED_SCHEME', `signature_scheme "${scheme}" is not supported; use hmac-sha256 (or another hmac-<digest>)`)
    }
    this.#algorithm = match[1].toLowerCase()
    this.#key = Buffer.from(key, 'utf8')
    // Fails early on a digest Node does not know.
    try {
      createHmac(this.#algorithm, 'probe')
    } catch (cause) {
      throw new KernelError('UNSUPPORTED_SCHEME', `signature_scheme "${scheme}" names an unknown digest`, { cause })
    }
  }

  /** Whether messages are signed at all (false for an empty key). */
  get enabled(): boolean {
    return this.#key.length > 0
  }

  /**
   * @param frames - header, parent header, metadata and content, serialized
   * @returns the hex signature (empty when signing is off)
   */
  sign(frames: readonly (Buffer | string)[]): string {
    if (!this.enabled) return ''
    const hmac = createHmac(this.#algorithm, this.#key)
    for (const frame of frames) hmac.update(frame)
    return hmac.digest('hex')
  }

  /**
   * Checks a signature in constant time.
   *
   * @param signature - the signature frame as received
   * @param frames - the four signed frames as received
   * @returns true when the signature is right (always true when signing is off)
   */
  verify(signature: string, frames: readonly (Buffer | string)[]): boolean {
    if (!this.enabled) return true
    const expected = Buffer.from(this.sign(frames), 'utf8')
    const actual = Buffer.from(signature, 'utf8')
    // timingSafeEqual needs equal lengths; compare against expected itself so timing is the same.
    const same = actual.length === expected.length
    return timingSafeEqual(same ? actual : expected, expected) && same
  }
}

/**
 * Decodes the frames of one multipart ZeroMQ message.
 *
 * @param frames - the raw frames from a ROUTER socket
 * @param signer - the connection's signer
 * @returns the message
 * @throws KernelError `BAD_SIGNATURE` when the signature is wrong or missing, `BAD_MESSAGE` when malformed
 * @example
 * ```ts
 * const msg = decodeMessage(await shell.receive(), signer)
 * ```
 */
export function decodeMessage(frames: Buffer[], signer: Signer): JupyterMessage {
  const at = frames.findIndex((f) => f.length === DELIMITER.length && f.toString('utf8') === DELIMITER)
  if (at < 0 || frames.length < at + 6) {
    throw new KernelError('BAD_MESSAGE', `message has ${frames.length} frames and ${at < 0 ? 'no' : 'a'} <IDS|MSG> delimiter; expected identities, delimiter, signature and four JSON frames`)
  }
  const signature = frames[at + 1]!.toString('utf8')
  const signed = frames.slice(at + 2, at + 6)
  if (!signer.verify(signature, signed)) {
    throw new KernelError('BAD_SIGNATURE', signature ? 'message signature does not match; the client uses another key or the message was altered' : 'message has no signature but the connection file sets a key')
  }
  try {
    const [header, parent, metadata, content] = signed.map((f) => JSON.parse(f.toString('utf8')) as Record<string, unknown>)
    return {
      identities: frames.slice(0, at),
      header: header as unknown as MessageHeader,
      parent_header: (parent ?? {}) as Partial<MessageHeader>,
      metadata: metadata ?? {},
      content: content ?? {},
      buffers: frames.slice(at + 6),
    }
  } catch (cause) {
    throw new KernelError('BAD_MESSAGE', 'message frames are not valid JSON', { cause })
  }
}

/**
 * Encodes a message into signed multipart frames.
 *
 * @param message - identities, header, parent header, metadata, content and buffers
 * @param signer - the connection's signer
 * @returns the frames to send
 * @example
 * ```ts
 * await iopub.send(encodeMessage(makeMessage('status', { execution_state: 'idle' }, parent, session), signer))
 * ```
 */
export function encodeMessage(message: Omit<JupyterMessage, 'buffers'> & { buffers?: Buffer[] }, signer: Signer): (Buffer | string)[] {
  const json = [message.header, message.parent_header, message.metadata, message.content].map((part) => JSON.stringify(part))
  return [...message.identities, DELIMITER, signer.sign(json), ...json, ...(message.buffers ?? [])]
}

/**
 * Builds a new message header.
 *
 * @param msgType - the message type, e.g. `execute_reply`
 * @param session - the sender's session id
 * @param username - the sender's user name
 * @returns a header with a fresh id and the current time
 * @example
 * ```ts
 * const header = makeHeader('kernel_info_request', randomUUID())
 * ```
 */
export function makeHeader(msgType: string, session: string, username = 'kernel'): MessageHeader {
  return { msg_id: randomUUID(), session, username, date: new Date().toISOString(), msg_type: msgType, version: PROTOCOL_VERSION }
}

/**
 * The ZeroMQ endpoint for one channel of a connection.
 *
 * @param info - the connection information
 * @param port - the channel's port
 * @returns e.g. `tcp://127.0.0.1:5555`
 * @example
 * ```ts
 * endpoint(info, info.shell_port)
 * ```
 */
export function endpoint(info: Pick<ConnectionInfo, 'ip' | 'transport'>, port: number): string {
  return info.transport === 'ipc' ? `ipc://${info.ip}-${port}` : `tcp://${info.ip}:${port}`
}
