"""What the benchmarks share: a free port, a keep-alive API client, and the service run for
the length of a `with` block."""
import http.client
import json
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, port, key):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        self.conn.request(method, path, body=json.dumps(body) if body else None, headers=self.headers)
        res = self.conn.getresponse()
        data = res.read()
        if res.status >= 300:
            raise RuntimeError(f"{method} {path}: {res.status} {data[:300]!r}")
        return json.loads(data)


class Server:
    """`BINARY serve` on a free port for as long as the `with` block runs."""

    def __init__(self, binary, env, key):
        self.binary, self.key = binary, key
        self.port = free_port()
        self.env = dict(env, LISTEN_ADDR=f"127.0.0.1:{self.port}")

    def __enter__(self):
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env)
        for _ in range(300):
            try:
                api = Api(self.port, self.key)
                api.call("GET", "/v1/surveys")
                return api
            except (ConnectionError, OSError):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.proc.returncode}")
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the server did not come up in 30 s")

    def __exit__(self, *_):
        self.proc.terminate()
        self.proc.wait()
