// aedes (MQTT over TCP and WebSocket) for duplex's tools/bench/compare.
const { Aedes } = require('aedes');
const net = require('net');
const http = require('http');
const ws = require('websocket-stream');
const [tcpPort, wsPort] = process.argv.slice(2).map(Number);
(async () => {
  const broker = await Aedes.createBroker();
  net.createServer(broker.handle).listen(tcpPort, '127.0.0.1', () => console.error('listening mqtt ' + tcpPort));
  const hs = http.createServer();
  ws.createServer({ server: hs }, broker.handle);
  hs.listen(wsPort, '127.0.0.1', () => console.error('listening ws ' + wsPort));
})();
