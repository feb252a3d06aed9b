"""A page that counts its visits in PostgreSQL, found by its service name `db`."""
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

DATABASE_URL = os.environ["DATABASE_URL"]


def visit():
    with psycopg2.connect(DATABASE_URL) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
        cur.execute("INSERT INTO visits DEFAULT VALUES")
        cur.execute("SELECT count(*), current_setting('server_version') FROM visits")
        count, version = cur.fetchone()
    return f"Hello from app-postgres: visit {count}, stored in PostgreSQL {version}\n"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            body, status = ("ok\n", 200) if self.path == "/health" else (visit(), 200)
        except psycopg2.Error as error:
            body, status = f"database error: {error}\n", 503
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} {fmt % args}", flush=True)


if __name__ == "__main__":
    # As pid 1 nothing stops us by default: `stop` sends SIGTERM and expects an exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening on :8000", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
