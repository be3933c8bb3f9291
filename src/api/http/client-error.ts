/**
 * Requests Node's HTTP parser cannot read (an unknown method, headers or a URL over the size
 * limit, broken framing) never reach a route: Node would answer them with a bare status line.
 * Clients read a Matrix error body on every error (spec: Client-Server API §2.4 "Standard error
 * response"), so these get one too, and the connection is closed (its framing is unknown).
 */
import type { Duplex } from 'node:stream';

interface ParserError extends Error {
  code?: string;
}

function reply(err: ParserError): { status: number; reason: string; errcode: string; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', errcode: 'M_TOO_LARGE', message: 'The request line or headers are too large' };
    case 'HPE_INVALID_METHOD':
      return { status: 405, reason: 'Method Not Allowed', errcode: 'M_UNRECOGNIZED', message: 'Unrecognized request method' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', errcode: 'M_UNKNOWN', message: 'The request took too long to arrive' };
    default:
      return { status: 400, reason: 'Bad Request', errcode: 'M_UNKNOWN', message: 'Malformed HTTP request' };
  }
}

/** The http.Server 'clientError' listener. */
export function onClientError(err: ParserError, socket: Duplex): void {
  // A peer that went away (or a socket already answered) gets nothing more.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const { status, reason, errcode, message } = reply(err);
  const body = JSON.stringify({ errcode, error: message });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n${body}`,
  );
}
