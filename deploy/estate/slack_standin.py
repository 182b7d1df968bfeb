"""A Slack incoming-webhook stand-in on the host's loopback for the estate
suite: answers `ok` to every POST and appends each body as one JSON line to
the file given, so the suite can see what the guest's relay delivered.

    slack_standin.py PORT_FILE OUT_FILE   (binds 127.0.0.1:0, writes the port)
"""

import http.server
import json
import sys


def main() -> None:
    port_file, out_file = sys.argv[1], sys.argv[2]

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with open(out_file, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": self.path, "body": body.decode("utf-8", "replace")}) + "\n")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    with open(port_file, "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
