/** strerror() texts (glibc) of the errno values a PF_KEY kernel returns, for setkey's messages. */
import { Errno } from '../../pfkey/constants';

const TEXT: ReadonlyMap<number, string> = new Map([
  [Errno.EPERM, 'Operation not permitted'],
  [Errno.ENOENT, 'No such file or directory'],
  [Errno.ESRCH, 'No such process'],
  [Errno.EINTR, 'Interrupted system call'],
  [Errno.EIO, 'Input/output error'],
  [Errno.E2BIG, 'Argument list too long'],
  [Errno.EBADF, 'Bad file descriptor'],
  [Errno.EAGAIN, 'Resource temporarily unavailable'],
  [Errno.ENOMEM, 'Cannot allocate memory'],
  [Errno.EACCES, 'Permission denied'],
  [Errno.EFAULT, 'Bad address'],
  [Errno.EBUSY, 'Device or resource busy'],
  [Errno.EEXIST, 'File exists'],
  [Errno.ENODEV, 'No such device'],
  [Errno.EINVAL, 'Invalid argument'],
  [Errno.ENOSPC, 'No space left on device'],
  [Errno.ENOSYS, 'Function not implemented'],
  [Errno.EMSGSIZE, 'Message too long'],
  [Errno.EPROTONOSUPPORT, 'Protocol not supported'],
  [Errno.EOPNOTSUPP, 'Operation not supported'],
  [Errno.EADDRNOTAVAIL, 'Cannot assign requested address'],
  [Errno.ENOBUFS, 'No buffer space available'],
]);

export function strerror(errno: number): string {
  return TEXT.get(errno) ?? `Unknown error ${errno}`;
}
