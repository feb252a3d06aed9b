"""Counts visits in Redis, reached by its service name."""
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

store = redis.Redis(host=os.environ.get("REDIS_HOST", "redis"), port=6379)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            body, status = f"Hello from web-redis: visit {store.incr('visits')}\n", 200
        except redis.RedisError as error:
            body, status = f"redis error: {error}\n", 503
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
