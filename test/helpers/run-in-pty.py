"""Runs a command on a real pseudo-terminal of a given size, for tests of terminal output.

Usage: python3 run-in-pty.py COLUMNS ROWS TIMEOUT_S MAX_BYTES -- command [args...]

Everything the command writes to its terminal is copied to this process's stdout (at most
MAX_BYTES; beyond that the count is reported and the rest dropped). SIGTERM and SIGINT sent
to this process are forwarded to the command. It exits with the command's exit code (128 +
signal number when a signal ended it), or 124 after TIMEOUT_S seconds, having SIGKILLed it.
The last line on stderr is "pty-bytes N": how many bytes the command wrote in all.
"""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

columns, rows, timeout_s, max_bytes = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
command = sys.argv[sys.argv.index("--") + 1:]

pid, master = pty.fork()
if pid == 0:
    # The child: its stdin/stdout/stderr are the terminal. Size it before the command starts.
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    os.execvp(command[0], command)

for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda s, _f: os.kill(pid, s))

deadline = time.monotonic() + timeout_s
total = 0
status = None
while True:
    if time.monotonic() > deadline:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        sys.stderr.write(f"pty-bytes {total}\n")
        sys.exit(124)
    try:
        ready, _, _ = select.select([master], [], [], 0.05)
    except InterruptedError:
        continue
    if ready:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b""
        if data:
            if total < max_bytes:
                sys.stdout.buffer.write(data[: max_bytes - total])
                sys.stdout.flush()
            total += len(data)
            continue
    if status is None:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    if status is not None:
        break  # it exited and nothing more is left to read

sys.stderr.write(f"pty-bytes {total}\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
