"""What the e2e tests' fake MES servers share (mes_receiver.py, interlock_receiver.py): a
quiet keep-alive JSON handler and a threaded server that publishes its port in a file."""
import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real MES would

    def log_message(self, fmt, *a):  # quiet: each receiver's JSON log is the record
        pass

    def read_body(self):
        """The request body, at most MAX_BODY bytes."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, MAX_BODY))

    def token_ok(self, token):
        """Whether the request carries "Authorization: Bearer <token>"."""
        return self.headers.get("Authorization", "") == "Bearer " + token

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(handler, port, port_file):
    """Serves handler on 127.0.0.1:port (0: any) for ever; the port goes to port_file, written
    whole (renamed into place) so the test never reads half a number."""
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
    srv.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()
