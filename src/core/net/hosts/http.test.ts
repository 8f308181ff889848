import { describe, expect, it } from "vitest";
import { decodeText, encodeText } from "../../host.ts";
import { HttpRequestReader, forwardedHeaders, httpResponse, refusal, textResponse, type HttpRequest } from "./http.ts";

const OWN = "http://localhost:5173";

function read(...parts: string[]): ReturnType<HttpRequestReader["push"]> {
  const reader = new HttpRequestReader();
  let result: ReturnType<HttpRequestReader["push"]>;
  for (const p of parts) result = reader.push(encodeText(p));
  return result;
}

describe("http requests", () => {
  it("reads a request split across segments, with its body by Content-Length", () => {
    const request = read("POST /form?x=1 HTTP/1.1\r\nHost: exa", "mple.com\r\nContent-Length: 5\r\nCookie: a=b\r\n\r\nhel", "lo") as HttpRequest;
    expect(request).toMatchObject({ method: "POST", target: "/form?x=1", version: "HTTP/1.1" });
    expect(decodeText(request.body)).toBe("hello");
    expect(forwardedHeaders(request)).toEqual([]); // Host, Content-Length and Cookie are not passed on
    expect(read("GET / HTTP/1.0\r\nUser-Agent: Wget\r\n")).toBeUndefined();
  });

  it("names what it cannot take", () => {
    expect(read("HELLO\r\n\r\n")).toMatchObject({ status: 400 });
    expect(read("GET / HTTP/1.1\r\nBad Header\r\n\r\n")).toMatchObject({ status: 400 });
    expect(read("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")).toMatchObject({ status: 501 });
    expect(read("POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n")).toMatchObject({ status: 413 });
    expect(read("GET / HTTP/1.1\r\n" + "X: y\r\n".repeat(6000))).toMatchObject({ status: 431 });
  });
});

describe("http responses", () => {
  it("writes the status line, the server's headers but not its framing, Content-Length and Connection: close", () => {
    const bytes = httpResponse({ status: 200, statusText: "OK", headers: [["Content-Type", "text/html"], ["Content-Encoding", "gzip"], ["Set-Cookie", "s=1"], ["Transfer-Encoding", "chunked"]], body: encodeText("<p>hi</p>") });
    expect(decodeText(bytes)).toBe("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 9\r\nConnection: close\r\n\r\n<p>hi</p>");
    expect(decodeText(httpResponse({ status: 200, statusText: "OK", body: encodeText("abc"), headRequest: true }))).toBe("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");
    expect(decodeText(httpResponse({ status: 304, statusText: "Not Modified", body: encodeText("x") }))).toBe("HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n");
    expect(decodeText(textResponse(403, "Forbidden", "no."))).toBe("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\nConnection: close\r\n\r\nno.\n");
  });
});

describe("where a guest may fetch", () => {
  it("allows http and https elsewhere", () => {
    expect(refusal("http://example.com/", OWN)).toBeUndefined();
    expect(refusal("https://example.com:8443/x", OWN)).toBeUndefined();
    expect(refusal("http://localhost:8080/", OWN)).toBeUndefined(); // another port is another origin
  });

  it("refuses virtlab's own origin under any loopback name, scheme or spelling of the port", () => {
    for (const url of ["http://localhost:5173/", "http://LOCALHOST.:5173/x", "http://127.0.0.1:5173/", "http://127.1:5173/", "http://2130706433:5173/", "http://[::1]:5173/", "http://[0:0:0:0:0:0:0:1]:5173/", "http://[::ffff:127.0.0.1]:5173/", "http://0.0.0.0:5173/", "http://app.localhost:5173/", "https://localhost:5173/", "http://user@localhost:5173/"]) {
      expect(refusal(url, OWN), url).toContain("own origin");
    }
    expect(refusal("https://virtlab.example/", "https://virtlab.example")).toContain("own origin");
    expect(refusal("https://VirtLab.Example:443/", "https://virtlab.example")).toContain("own origin");
    expect(refusal("http://virtlab.example:443/", "https://virtlab.example")).toContain("own origin");
    expect(refusal("http://virtlab.example/", "https://virtlab.example")).toBeUndefined(); // port 80: another origin
  });

  it("refuses other schemes and what is not a URL", () => {
    expect(refusal("file:///etc/passwd", OWN)).toContain("not file");
    expect(refusal("ftp://example.com/", OWN)).toContain("not ftp");
    expect(refusal("javascript:alert(1)", OWN)).toBeDefined();
    expect(refusal("http://", OWN)).toContain("not a URL");
  });
});
