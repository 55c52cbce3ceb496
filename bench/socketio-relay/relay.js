// The peer of the server benchmark: a minimal socket.io relay with no persistence. An agent
// joins a room; a visitor's `send` is relayed to that room and acknowledged with its body
// (as Talk acknowledges with the committed message). Loopback only: HOST and PORT are given
// by talk-bench.
'use strict';
const http = require('node:http');
const { Server } = require('socket.io');

const host = process.env.HOST || '127.0.0.1';
const port = Number(process.env.PORT);
if (!port) throw new Error('set PORT');

const io = new Server({ transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(String(room));
    if (typeof ack === 'function') ack();
  });
  socket.on('send', (message, ack) => {
    socket.to(String(message.room)).emit('message', message);
    if (typeof ack === 'function') ack(message.body);
  });
});
const server = http.createServer();
io.attach(server);
server.listen(port, host, () => console.log(`socket.io relay on ${host}:${port}`));
