import t from 'tap'
import { UploadBufferPool, holdForSend, sent } from '../src/engine/upload-buffers.js'

t.test('an evicted upload buffer is reused only once every block sliced from it has been sent', async (t) => {
  const pool = new UploadBufferPool(1024, 4)
  const buffer = pool.take()
  const first = buffer.subarray(0, 256)
  const second = buffer.subarray(256, 512)
  holdForSend(first)
  holdForSend(second)
  pool.retire(buffer)
  t.not(pool.take(), buffer, 'not while two blocks are still queued')
  sent(first)
  t.not(pool.take(), buffer, 'not while one block is still queued')
  sent(second)
  t.equal(pool.take().buffer, buffer.buffer, 'reused once the last block is sent')
})

t.test('a buffer with nothing in flight is reused at once; foreign and odd-sized buffers are left alone', async (t) => {
  const pool = new UploadBufferPool(1024, 1)
  const idle = pool.take()
  pool.retire(idle)
  t.equal(pool.take(), idle)
  pool.retire(Buffer.alloc(512))
  t.equal(pool.take().length, 1024, 'an odd-sized buffer never enters the pool')
  sent(Buffer.alloc(16))
  t.pass('sending a chunk that was never held is harmless')
  const a = pool.take()
  const b = pool.take()
  pool.retire(a)
  pool.retire(b)
  t.equal(pool.take(), a, 'the pool keeps at most maxFree buffers')
  t.not(pool.take(), b)
})

t.test('spare buffers can be let go: the next take allocates afresh', async (t) => {
  const pool = new UploadBufferPool(1024, 4)
  const buffer = pool.take()
  pool.retire(buffer)
  pool.releaseSpare()
  t.not(pool.take(), buffer)
})
