import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { KernelError } from './errors'
import { decodeMessage, encodeMessage, endpoint, makeHeader, readConnectionFile, Signer } from './wire'

const toBuffers = (frames: (Buffer | string)[]) => frames.map((f) => Buffer.from(f))

describe('Signer', () => {
  it('signs with HMAC-SHA256 over the four frames, as Jupyter does', () => {
    const signer = new Signer('secret', 'hmac-sha256')
    // Reference value: python3 -c "import hmac,hashlib;h=hmac.new(b'secret',digestmod=hashlib.sha256);[h.update(x) for x in [b'{}',b'{}',b'{}',b'{\"a\":1}']];print(h.hexdigest())"
    expect(signer.sign(['{}', '{}', '{}', '{"a":1}'])).toBe('9335a27f3b96ceef8d908311214c9b96d0a1763df3e479e8e92f19b227d8b058')
  })
  it('verifies good signatures and rejects wrong, truncated and empty ones', () => {
    const signer = new Signer('secret')
    const frames = ['{"msg_id":"1"}', '{}', '{}', '{}']
    const good = signer.sign(frames)
    expect(signer.verify(good, frames)).toBe(true)
    expect(signer.verify(good.replace(/^./, good[0] === 'a' ? 'b' : 'a'), frames)).toBe(false)
    expect(signer.verify(good.slice(0, 10), frames)).toBe(false)
    expect(signer.verify('', frames)).toBe(false)
    expect(signer.verify(good, ['{"msg_id":"2"}', '{}', '{}', '{}'])).toBe(false)
  })
  it('turns signing off for an empty key and refuses unknown schemes', () => {
    expect(new Signer('').enabled).toBe(false)
    expect(new Signer('').sign(['x'])).toBe('')
    expect(() => new Signer('k', 'rsa-sha256')).toThrow(/signature_scheme "rsa-sha256" is not supported/)
    expect(() => new Signer('k', 'hmac-nosuchdigest')).toThrow(KernelError)
  })
})

describe('message frames', () => {
  const signer = new Signer('key')
  it('round-trips identities, header, parent, metadata, content and buffers', () => {
    const header = makeHeader('execute_request', 'session-1', 'me')
    const frames = encodeMessage({ identities: [Buffer.from('id-1')], header, parent_header: {}, metadata: { m: 1 }, content: { code: '1' }, buffers: [Buffer.from([1, 2])] }, signer)
    const decoded = decodeMessage(toBuffers(frames), signer)
    expect(decoded.identities.map(String)).toEqual(['id-1'])
    expect(decoded.header).toEqual(header)
    expect(decoded.header.version).toBe('5.3')
    expect(decoded.metadata).toEqual({ m: 1 })
    expect(decoded.content).toEqual({ code: '1' })
    expect(decoded.buffers.map((b) => [...b])).toEqual([[1, 2]])
  })
  it('rejects a tampered message and a malformed one', () => {
    const frames = toBuffers(encodeMessage({ identities: [], header: makeHeader('x', 's'), parent_header: {}, metadata: {}, content: { a: 1 } }, signer))
    frames[5] = Buffer.from('{"a":2}')
    expect(() => decodeMessage(frames, signer)).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE' }))
    expect(() => decodeMessage([Buffer.from('no delimiter')], signer)).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }))
  })
})

describe('connection files', () => {
  it('reads ports, key and scheme, and names a missing port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conn-'))
    const file = join(dir, 'c.json')
    writeFileSync(file, JSON.stringify({ ip: '127.0.0.1', transport: 'tcp', shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: 'k', signature_scheme: 'hmac-sha256' }))
    const info = await readConnectionFile(file)
    expect(endpoint(info, info.shell_port)).toBe('tcp://127.0.0.1:1')
    expect(endpoint({ ip: '/tmp/k', transport: 'ipc' }, 7)).toBe('ipc:///tmp/k-7')
    writeFileSync(file, JSON.stringify({ shell_port: 1 }))
    await expect(readConnectionFile(file)).rejects.toThrow(/no integer "iopub_port"/)
    await expect(readConnectionFile(join(dir, 'missing.json'))).rejects.toThrow(/cannot read connection file/)
  })
})
