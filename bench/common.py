"""What the benchmarks share: a free port, a keep-alive API client, the service run either for
the length of a `with` block or between `start()` and `stop()`, and the CPU time processes
have used (so a benchmark can report the CPU one operation costs, which moves much less from
run to run than a rate does on a shared machine)."""
import http.client
import json
import os
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """JSON calls with the workspace key over one keep-alive connection."""

    def __init__(self, port, key):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        try:
            return self._call(method, path, body)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closed an idle keep-alive connection (during a long load): reconnect.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            return self._call(method, path, body)

    def fetch(self, path):
        """GET `path` and read the whole body, undecoded: the service's latency, without the
        client's JSON parsing (which costs more than the call for a large trend)."""
        self.conn.request("GET", path, headers=self.headers)
        res = self.conn.getresponse()
        data = res.read()
        if res.status >= 300:
            raise RuntimeError(f"GET {path}: {res.status} {data[:300]!r}")
        return data

    def _call(self, method, path, body):
        self.conn.request(method, path, body=json.dumps(body) if body else None, headers=self.headers)
        res = self.conn.getresponse()
        data = res.read()
        if res.status >= 300:
            raise RuntimeError(f"{method} {path}: {res.status} {data[:300]!r}")
        return json.loads(data)


class Server:
    """`BINARY serve` on a free port: `with Server(...) as api:` runs it for the block;
    `start()` and `stop()` do the same by hand (its process is `proc`, its port `port`)."""

    def __init__(self, binary, env, key):
        self.binary, self.key = binary, key
        self.port = free_port()
        self.env = dict(env, LISTEN_ADDR=f"127.0.0.1:{self.port}")
        self.proc = None

    def start(self):
        """Starts the server and waits until it answers the API (30 s at most)."""
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env)
        for _ in range(300):
            try:
                Api(self.port, self.key).call("GET", "/v1/surveys")
                return self
            except (ConnectionError, OSError):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.proc.returncode}")
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the server did not come up in 30 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)

    def __enter__(self):
        self.start()
        return Api(self.port, self.key)

    def __exit__(self, *_):
        self.stop()


def cpu_seconds(pids):
    """User + system CPU time of these processes so far (from /proc; gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids():
    """Every running PostgreSQL process: its backends do the service's SQL work."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == "postgres":
                        pids.append(int(entry))
            except OSError:
                pass
    return pids
