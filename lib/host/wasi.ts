import { randomFillSync } from 'node:crypto'
import { LogLevel } from '../abi/enums'
import { Errno } from '../abi/status'
import { ProcExit } from '../vm/traps'
import { monotonicNs, realtimeNs } from './time'
import type { HostVm } from './types'

const RANDOM_MAX = 65536
const FILETYPE_CHARACTER_DEVICE = 2
const RIGHT_FD_WRITE = 64n

const isStdio = (fd: number) => fd === 1 || fd === 2

/**
 * The WASI preview1 subset of the reference host. stdout and stderr go to the
 * logger at info and error; clocks, random and the configured environment
 * work; everything else answers an errno. Nothing here throws except
 * proc_exit, which ends the running call.
 */
export function wasiFunctions (vm: HostVm) {
  const mem = vm.mem
  const environ = vm.environ.map(e => Buffer.from(e + '\0'))

  function write (fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
    if (!isStdio(fd)) return Errno.Badf
    const count = iovsLen >>> 0
    if (!mem.valid(iovs, count * 8)) return Errno.Fault
    const parts: Buffer[] = []
    let total = 0
    for (let i = 0; i < count; i++) {
      const ptr = mem.u32(iovs + i * 8) as number
      const len = mem.u32(iovs + i * 8 + 4) as number
      const part = mem.copy(ptr, len)
      if (part === null) return Errno.Fault
      parts.push(part)
      total += len
    }
    if (!mem.valid(nwrittenPtr, 4)) return Errno.Fault
    let text = Buffer.concat(parts, total).toString('utf8')
    if (text.endsWith('\n')) text = text.slice(0, -1)
    if (text.length > 0) {
      const level = fd === 1 ? LogLevel.Info : LogLevel.Error
      const sink = vm.ctx().log
      if (sink.enabled(level)) sink.write(level, text)
    }
    mem.writeU32(nwrittenPtr, total)
    return Errno.Success
  }

  const stdioOnly = (fd: number) => isStdio(fd) ? Errno.Success : Errno.Badf

  return {
    fd_write: write,
    fd_pwrite: (fd: number, iovs: number, iovsLen: number, _offset: bigint, nwrittenPtr: number) => write(fd, iovs, iovsLen, nwrittenPtr),
    fd_read: () => Errno.Nosys,
    fd_pread: () => Errno.Nosys,
    fd_seek: (fd: number) => fd >= 0 && fd <= 2 ? Errno.Spipe : Errno.Badf,
    fd_tell: (fd: number, ptr: number) => {
      if (!isStdio(fd)) return Errno.Badf
      return mem.writeU64(ptr, 0n) ? Errno.Success : Errno.Fault
    },
    fd_close: stdioOnly,
    fd_sync: stdioOnly,
    fd_datasync: stdioOnly,
    fd_advise: stdioOnly,
    fd_allocate: stdioOnly,
    fd_filestat_set_size: stdioOnly,
    fd_filestat_set_times: stdioOnly,
    fd_fdstat_set_rights: stdioOnly,
    fd_fdstat_set_flags: () => Errno.Nosys,
    // stdout/stderr look like a terminal, so C stdio flushes them per line.
    fd_fdstat_get: (fd: number, ptr: number) => {
      if (!isStdio(fd)) return Errno.Badf
      if (!mem.valid(ptr, 24)) return Errno.Fault
      mem.buf.fill(0, ptr >>> 0, (ptr >>> 0) + 24)
      mem.buf[ptr >>> 0] = FILETYPE_CHARACTER_DEVICE
      mem.writeU64(ptr + 8, RIGHT_FD_WRITE)
      return Errno.Success
    },
    fd_filestat_get: () => Errno.Badf,
    // No preopened directories: libc stops scanning at the first BADF.
    fd_prestat_get: () => Errno.Badf,
    fd_prestat_dir_name: () => Errno.Badf,
    fd_readdir: () => Errno.Notdir,
    fd_renumber: (fd: number, to: number) => isStdio(fd) && isStdio(to) ? Errno.Notsup : Errno.Badf,

    path_open: () => Errno.Noent,
    path_create_directory: () => Errno.Notsup,
    path_remove_directory: () => Errno.Notsup,
    path_unlink_file: () => Errno.Notsup,
    path_filestat_get: () => Errno.Notsup,
    path_filestat_set_times: () => Errno.Notsup,
    path_link: () => Errno.Notsup,
    path_rename: () => Errno.Notsup,
    path_symlink: () => Errno.Notsup,
    path_readlink: (_fd: number, _path: number, _len: number, _buf: number, _bufLen: number, retPtr: number) => {
      mem.writeU32(retPtr, 0)
      return Errno.Notsup
    },

    sock_accept: (_fd: number, _flags: number, retPtr: number) => {
      mem.writeU32(retPtr, 0)
      return Errno.Notsup
    },
    sock_recv: (_fd: number, _iovs: number, _len: number, _flags: number, nPtr: number, flagsPtr: number) => {
      mem.writeU32(nPtr, 0)
      mem.writeU16(flagsPtr, 0)
      return Errno.Notsup
    },
    sock_send: (_fd: number, _iovs: number, _len: number, _flags: number, nPtr: number) => {
      mem.writeU32(nPtr, 0)
      return Errno.Notsup
    },
    sock_shutdown: () => Errno.Notsup,

    environ_sizes_get: (countPtr: number, sizePtr: number) => {
      let size = 0
      for (const e of environ) size += e.length
      return mem.writeU32(countPtr, environ.length) && mem.writeU32(sizePtr, size) ? Errno.Success : Errno.Fault
    },
    environ_get: (ptrsPtr: number, bufPtr: number) => {
      let size = 0
      for (const e of environ) size += e.length
      if (!mem.valid(ptrsPtr, environ.length * 4) || !mem.valid(bufPtr, size)) return Errno.Fault
      let at = bufPtr >>> 0
      for (let i = 0; i < environ.length; i++) {
        mem.writeU32(ptrsPtr + i * 4, at)
        mem.writeBytes(at, environ[i])
        at += environ[i].length
      }
      return Errno.Success
    },
    args_sizes_get: (argcPtr: number, sizePtr: number) => mem.writeU32(argcPtr, 0) && mem.writeU32(sizePtr, 0) ? Errno.Success : Errno.Fault,
    args_get: () => Errno.Success,

    clock_time_get: (id: number, _precision: bigint, ptr: number) => {
      let now: bigint
      if (id === 0) now = realtimeNs()
      else if (id === 1) now = monotonicNs()
      else return Errno.Notsup
      return mem.writeU64(ptr, now) ? Errno.Success : Errno.Fault
    },
    clock_res_get: (id: number, ptr: number) => {
      if (id !== 0 && id !== 1) return Errno.Notsup
      return mem.writeU64(ptr, 1n) ? Errno.Success : Errno.Fault
    },
    random_get: (ptr: number, len: number) => {
      const n = len >>> 0
      if (n > RANDOM_MAX) return Errno.Inval
      if (n === 0) return Errno.Success
      const view = mem.slice(ptr, n)
      if (view === null) return Errno.Fault
      randomFillSync(view)
      return Errno.Success
    },
    sched_yield: () => Errno.Success,
    // Nothing ever becomes ready; Go's runtime needs this to succeed.
    poll_oneoff: (_in: number, _out: number, _n: number, neventsPtr: number) => mem.writeU32(neventsPtr, 0) ? Errno.Success : Errno.Fault,
    proc_exit: (code: number): void => {
      throw new ProcExit(code >>> 0)
    }
  }
}
