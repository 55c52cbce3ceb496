// The durable peer of the server benchmark: the socket.io relay (../socketio-relay) doing the
// work a Node chat server does before it acknowledges a message. Each `send` is stored in
// SQLite (better-sqlite3, WAL, synchronous=FULL: on disk when the commit returns) with the
// room's next seq, idempotent by the client's message id, and only then relayed to the room
// and acknowledged. Sends that arrive while a commit runs share the next one (group commit,
// as Talk's writer does). HOST, PORT and DB (the database file) are given by talk-bench.
'use strict';
const http = require('node:http');
const Database = require('better-sqlite3');
const { Server } = require('socket.io');

const host = process.env.HOST || '127.0.0.1';
const port = Number(process.env.PORT);
const file = process.env.DB;
if (!port || !file) throw new Error('set PORT and DB');

const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`
  CREATE TABLE IF NOT EXISTS rooms (room TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS messages (
    room TEXT NOT NULL, seq INTEGER NOT NULL, client_msg_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (room, seq));
`);
const known = db.prepare('SELECT room, seq FROM messages WHERE client_msg_id = ?');
const openRoom = db.prepare('INSERT OR IGNORE INTO rooms (room, last_seq) VALUES (?, 0)');
const nextSeq = db.prepare('UPDATE rooms SET last_seq = last_seq + 1 WHERE room = ? RETURNING last_seq');
const insert = db.prepare(
  'INSERT INTO messages (room, seq, client_msg_id, body, created_at) VALUES (?, ?, ?, ?, ?)');

// One transaction for every send queued: a resend gets its first seq back, not a new one.
const commit = db.transaction((batch) => batch.map(({ message }) => {
  const room = String(message.room);
  // talk-bench sends a UUID per message (resends keep it); without one, each send is new.
  const id = message.id === undefined ? require('node:crypto').randomUUID() : String(message.id);
  const stored = known.get(id);
  if (stored) return stored.seq;
  openRoom.run(room);
  const { last_seq: seq } = nextSeq.get(room);
  insert.run(room, seq, id, String(message.body), Date.now());
  return seq;
}));

let queued = [];
function flush() {
  const batch = queued;
  queued = [];
  let seqs;
  try {
    seqs = commit(batch);
  } catch (error) {
    // Nothing of the batch is stored: nobody is acknowledged, and clients resend.
    console.error('commit failed', error);
    return;
  }
  batch.forEach(({ socket, message, ack }, i) => {
    socket.to(String(message.room)).emit('message', { ...message, seq: seqs[i] });
    if (typeof ack === 'function') ack(message.body);
  });
}

const io = new Server({ transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(String(room));
    if (typeof ack === 'function') ack();
  });
  socket.on('send', (message, ack) => {
    // The first send of a batch schedules its commit after the sends already read.
    if (queued.push({ socket, message, ack }) === 1) setImmediate(flush);
  });
});
const server = http.createServer();
io.attach(server);
server.listen(port, host, () => console.log(`durable socket.io relay on ${host}:${port}`));
