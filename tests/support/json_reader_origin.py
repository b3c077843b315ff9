"""An origin that reads each POST body with Python's own json module and answers with what it
read: whether it could, and each message's method and the tool/prompt name or resource URI it
names. `GET /count` answers how many POSTs reached it. The body-differential test compares that
reading with the gateway's.

    python json_reader_origin.py   # prints the port it listens on
"""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAMED = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    "resources/subscribe": "uri",
    "resources/unsubscribe": "uri",
}


def reading(raw):
    try:
        # json.loads on bytes: Python's own encoding detection (it skips a UTF-8 BOM).
        value = json.loads(raw)
    except (ValueError, RecursionError) as e:
        return {"reader": "python", "ok": False, "error": type(e).__name__}
    calls = []
    for item in value if isinstance(value, list) else [value]:
        item = item if isinstance(item, dict) else {}
        method = item.get("method") if isinstance(item.get("method"), str) else None
        params = item.get("params") if isinstance(item.get("params"), dict) else {}
        name = params.get(NAMED[method]) if method in NAMED else None
        calls.append({"method": method, "name": name if isinstance(name, str) else None})
    return {"reader": "python", "ok": True, "calls": calls}


class Handler(BaseHTTPRequestHandler):
    posts = 0

    def body(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                out += self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return out
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def do_POST(self):
        Handler.posts += 1
        self.answer(reading(self.body()))

    def do_GET(self):
        self.answer({"requests": Handler.posts})

    def answer(self, value):
        answer = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
