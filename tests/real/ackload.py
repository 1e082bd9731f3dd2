"""ackload.py SOCK PID KILL_AT: INCR n / SET k:i over a unix socket, 32 to
64 commands in flight; once KILL_AT replies have come, SIGKILL the server
(pid PID) with commands still in flight, and read replies until the
connection ends.  Prints the number of acknowledged INCRs, then the
indexes of the acknowledged SETs (one line)."""
import os, signal, socket, sys

path, pid, kill_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_UNIX)
s.connect(path)
replies = s.makefile('rb')


def command(*args):
    out = b'*%d\r\n' % len(args)
    for a in args:
        a = str(a).encode()
        out += b'$%d\r\n%s\r\n' % (len(a), a)
    return out


sent, acked, incrs, sets, killed = [], 0, 0, [], False
try:
    for i in range(1, 200001):
        sent.append(i)
        s.sendall(command('INCR', 'n') if i % 2 else command('SET', 'k:%d' % i, 'v%d' % i))
        while len(sent) - acked > (32 if i % 32 == 0 else 64):
            line = replies.readline()
            if not line:
                raise EOFError
            if line[:1] not in b':+':
                sys.exit('unexpected reply %r' % line)
            if sent[acked] % 2:
                incrs += 1
            else:
                sets.append(sent[acked])
            acked += 1
        if not killed and acked >= kill_at:
            os.kill(pid, signal.SIGKILL)
            killed = True
except (EOFError, OSError):
    pass
print(incrs)
print(' '.join(map(str, sets)))
